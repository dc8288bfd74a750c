package browsersession

import (
	"crypto/sha256"
	"fmt"
	"maps"
	"slices"
	"sync"

	"k8s.io/apimachinery/pkg/types"
)

// secretDigests remembers, per Secret, the resourceVersion at which the operator last wrote or
// read it and digests of its data: enough to tell that a Secret still holds what a pass would
// write, without keeping the credentials in memory or reading them again. Empty after a restart,
// when each Secret is read once.
type secretDigests struct {
	mu    sync.Mutex
	byKey map[types.NamespacedName]secretDigest
}

type secretDigest struct {
	resourceVersion string
	all, session    [sha256.Size]byte // every key; only the keys that do not come from connect details
}

// sessionKeys are the Secret keys every session answer has; the others come only with the
// connect details, which a get may not return.
var sessionKeys = []string{SecretKeySessionID, SecretKeyExpiresAt}

func digest(data map[string][]byte, keys []string) [sha256.Size]byte {
	h := sha256.New()
	for _, k := range keys {
		v, ok := data[k]
		if !ok {
			continue
		}
		fmt.Fprintf(h, "%d:%s%d:", len(k), k, len(v))
		h.Write(v)
	}
	var out [sha256.Size]byte
	h.Sum(out[:0])
	return out
}

func (d *secretDigests) remember(key types.NamespacedName, resourceVersion string, data map[string][]byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.byKey == nil {
		d.byKey = map[types.NamespacedName]secretDigest{}
	}
	d.byKey[key] = secretDigest{
		resourceVersion: resourceVersion,
		all:             digest(data, slices.Sorted(maps.Keys(data))),
		session:         digest(data, sessionKeys),
	}
}

// holds reports whether the Secret, at resourceVersion, holds data: all of it when complete, else
// the keys of sessionKeys (the connect details then stay as they are).
func (d *secretDigests) holds(key types.NamespacedName, resourceVersion string, data map[string][]byte, complete bool) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	known, ok := d.byKey[key]
	if !ok || known.resourceVersion != resourceVersion {
		return false
	}
	if complete {
		return known.all == digest(data, slices.Sorted(maps.Keys(data)))
	}
	return known.session == digest(data, sessionKeys)
}

// forget drops what is remembered of a Secret, once its BrowserSession is gone.
func (d *secretDigests) forget(key types.NamespacedName) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.byKey, key)
}
