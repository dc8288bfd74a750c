// Package argocd runs the Argo CD health checks that config/argocd ships for BrowserSessions,
// BrowserContexts and BrowserSessionTemplates, in gopher-lua, the Lua interpreter Argo CD embeds,
// the way Argo CD does: the object is the global obj, and the script returns {status, message}.
package argocd

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	lua "github.com/yuin/gopher-lua"
)

// Health is what the check returns.
type Health struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

// Kinds are the kinds with a health check, in config/argocd/resource_customizations/browserbase.io.
var Kinds = []string{"BrowserSession", "BrowserContext", "BrowserSessionTemplate", "BrowserbaseProject", "ClusterBrowserbaseProject"}

// ScriptPath is the BrowserSession health check in the repository.
func ScriptPath() string { return ScriptPathFor("BrowserSession") }

// ScriptPathFor is the health check of kind in the repository.
func ScriptPathFor(kind string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "config", "argocd", "resource_customizations",
		"browserbase.io", kind, "health.lua")
}

// Evaluate runs the health check of the object's kind (BrowserSession when it has none) on the
// object in its unstructured form, as Argo CD picks the check by group and kind.
func Evaluate(obj map[string]any) (Health, error) {
	kind, _ := obj["kind"].(string)
	if kind == "" {
		kind = "BrowserSession"
	}
	script, err := os.ReadFile(ScriptPathFor(kind))
	if err != nil {
		return Health{}, err
	}
	state := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer state.Close()
	for _, open := range []lua.LGFunction{lua.OpenBase, lua.OpenTable, lua.OpenString, lua.OpenMath} {
		state.Push(state.NewFunction(open))
		state.Call(0, 0)
	}
	state.SetGlobal("obj", toLua(state, obj))
	if err := state.DoString(string(script)); err != nil {
		return Health{}, err
	}
	table, ok := state.Get(-1).(*lua.LTable)
	if !ok {
		return Health{}, fmt.Errorf("health.lua returned %s, not a table", state.Get(-1).Type())
	}
	return Health{Status: lua.LVAsString(table.RawGetString("status")), Message: lua.LVAsString(table.RawGetString("message"))}, nil
}

// toLua converts JSON-shaped values as Argo CD does: objects and arrays to tables, numbers to
// numbers, and so on.
func toLua(state *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case map[string]any:
		t := state.NewTable()
		for k, val := range v {
			t.RawSetString(k, toLua(state, val))
		}
		return t
	case []any:
		t := state.NewTable()
		for _, val := range v {
			t.Append(toLua(state, val))
		}
		return t
	case string:
		return lua.LString(v)
	case bool:
		return lua.LBool(v)
	case int64:
		return lua.LNumber(v)
	case int:
		return lua.LNumber(v)
	case float64:
		return lua.LNumber(v)
	case nil:
		return lua.LNil
	default:
		return lua.LString(fmt.Sprint(v))
	}
}
