package faults

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/emulator"
)

// The counts come from the emulator, which saw every session made and every release asked for,
// and from the API server (the resources, their status.revision, what their Secrets held); never
// from the operator's own account of what it did (its log, its events), so that a bug that makes
// extra sessions and explains them away is still counted.
//
// For each resource (by UID), S is the sessions the emulator made tagged with it
// (userMetadata k8s.uid), and rev the highest status.revision it reached: a renewal
// legitimately makes one more session, so rev sessions are the resource's own.
//
//   - wasted_creates = |S| - rev: every create beyond the sessions the resource had, even one
//     released at once. A lost create answer legitimately wastes one (the session exists, but
//     its connect details came only with the answer, and Browserbase's get does not return
//     them, so it is released and another made); so does a manager killed between a create's
//     answer and the Secret write. So wasted_creates is reported, not asserted; lost_answers
//     says how many answers the faults lost.
//   - duplicates: extra sessions that ran beside the resource's session and were never
//     released. An extra is a session of S that status.id never named (the watch saw every
//     status write); it is a duplicate when the operator never asked for its release (it ran
//     until it timed out, or still runs) and its lifetime overlapped that of a session status
//     named: two sessions billed and holding concurrency slots at once, one of them of no
//     use. The count is capped at wasted_creates, so that it never exceeds what the emulator
//     and the revision alone show. An extra that was released is only wasted; one that timed
//     out on its own while the resource had no session (a lost answer that the operator, busy
//     restarting, reached only after it ended) is wasted too, not a duplicate.
//   - leaked: sessions running without a resource to account for them. For a resource that
//     exists, a live session that is neither status.id nor status.previousId (the predecessor
//     in its overlap). For a resource that is gone, a session that is live, or that ended after
//     the watch saw the resource go: it was running when the operator removed its finalizer.
//     A live extra beside a live recorded session is in both duplicates and leaked.
//   - BrowserContexts carry no tag, so they are counted by project from the calls the emulator
//     answered: contexts_leaked is the ids an operator Secret held that were never deleted,
//     but for the one an existing resource holds now; contexts_unrecorded is the creates whose
//     id never reached a Secret nor was deleted. The operator cannot find those again (contexts
//     cannot be listed): a manager killed between a create's answer and the Secret write leaves
//     one, as the ContextMayHaveLeaked event says, so it is reported, not asserted.
//   - shared_context: sessions created while another live session persisted into the same
//     context (the emulator's SharedContext): a renewal must release the predecessor first.
//   - regressions: writes that moved a resource back to an older session: status.id, or the
//     Secret's sessionId, naming a session created before the one it named just before (what a
//     stale writer does). The emulator's creation order decides which is older.

// phaseOrder lists the phases in the order the summary shows them.
var phaseOrder = []string{"main", "onend", "persist", "contexts", "pods", "projects", "expiry", "never", "stale"}

// phaseOf is the phase of a resource, from its name.
func phaseOf(name string) string {
	for _, p := range []struct{ prefix, phase string }{
		{"s-", "main"}, {"late-", "main"}, {"r-", "main"},
		{"o-", "onend"}, {"p-", "persist"}, {"pc-", "persist"}, {"c-", "contexts"},
		{"x-", "expiry"}, {"n-", "never"}, {"stale-", "stale"}, {podTemplate + "-", "pods"}, {"bp-", "projects"},
	} {
		if strings.HasPrefix(name, p.prefix) {
			return p.phase
		}
	}
	return "other"
}

// phaseProject is the emulator project of a phase's contexts.
var phaseProject = map[string]string{"persist": "faults-persist", "contexts": "faults-contexts"}

// figures are one phase's counts (or the total's).
type figures struct {
	resources, existing, gone       int
	sessions, renewed               int
	wasted, duplicates, leaked      int
	regressions, sharedContext      int
	contexts, contextsGone          int
	contextsCreated, contextsLeaked int
	contextsUnrecorded              int
	contextsStuck                   int
}

func (f *figures) add(o figures) {
	f.resources += o.resources
	f.existing += o.existing
	f.gone += o.gone
	f.sessions += o.sessions
	f.renewed += o.renewed
	f.wasted += o.wasted
	f.duplicates += o.duplicates
	f.leaked += o.leaked
	f.regressions += o.regressions
	f.sharedContext += o.sharedContext
	f.contexts += o.contexts
	f.contextsGone += o.contextsGone
	f.contextsCreated += o.contextsCreated
	f.contextsLeaked += o.contextsLeaked
	f.contextsUnrecorded += o.contextsUnrecorded
	f.contextsStuck += o.contextsStuck
}

func (f figures) String() string {
	s := fmt.Sprintf("resources=%d existing=%d gone=%d sessions=%d renewed=%d duplicates=%d leaked=%d wasted_creates=%d regressions=%d",
		f.resources, f.existing, f.gone, f.sessions, f.renewed, f.duplicates, f.leaked, f.wasted, f.regressions)
	if f.contexts > 0 {
		s += fmt.Sprintf(" shared_context=%d contexts=%d contexts_gone=%d contexts_created=%d contexts_leaked=%d contexts_unrecorded=%d contexts_stuck=%d",
			f.sharedContext, f.contexts, f.contextsGone, f.contextsCreated, f.contextsLeaked, f.contextsUnrecorded, f.contextsStuck)
	}
	return s
}

// tally is one count of everything.
type tally struct {
	phases      map[string]*figures
	total       figures
	orphans     int // sessions tagged with no resource of the suite
	lostAnswers int // create answers the faults lost (the emulator's and the front door's)
	releases    int
	requests    []string // "kind:status=n", sorted
	diagnosis   []string // one block per flagged resource
	names       map[types.UID]string
	existing    map[types.UID]v1alpha1.BrowserSession
	podOf       map[types.UID]types.UID // a Pod's BrowserSessions (by UID): the Pod's UID
	contexts    map[types.UID]v1alpha1.BrowserContext
	sessionsOf  map[types.UID][]emulator.Session
	releasedIDs map[string]bool
	lostHere    map[string]bool // sessions whose create answer the front door lost
}

// phase is the figures of one phase (empty ones for a phase with nothing).
func (t *tally) phase(name string) figures {
	if f := t.phases[name]; f != nil {
		return *f
	}
	return figures{}
}

// counter counts sessions and contexts against resources.
type counter struct {
	k8s   client.Client
	emu   *emulator.Server
	front *frontDoor
	hist  *history
}

// overlap reports whether a and b were live at the same time (one that has not ended runs on).
func overlap(a, b emulator.Session, now time.Time) bool {
	end := func(s emulator.Session) time.Time {
		if s.EndedAt != nil {
			return *s.EndedAt
		}
		return now
	}
	return a.CreatedAt.Before(end(b)) && b.CreatedAt.Before(end(a))
}

func live(s emulator.Session) bool { return s.Status == "RUNNING" || s.Status == "PENDING" }

func tagUID(s emulator.Session) types.UID {
	tag, _ := s.UserMetadata[v1alpha1.ReservedMetadataKey].(map[string]any)
	uid, _ := tag["uid"].(string)
	return types.UID(uid)
}

func (c *counter) count(ctx context.Context) (*tally, error) {
	// The resources first: a session the emulator shows was then made before or during the
	// list, never for a resource the list has not seen.
	sessionList := &v1alpha1.BrowserSessionList{}
	if err := c.k8s.List(ctx, sessionList); err != nil {
		return nil, err
	}
	contextList := &v1alpha1.BrowserContextList{}
	if err := c.k8s.List(ctx, contextList); err != nil {
		return nil, err
	}
	sessions := c.emu.Sessions()
	requests := c.emu.Requests()
	recorded, contextRecords, secrets := c.hist.snapshot()

	t := &tally{
		phases: map[string]*figures{}, names: map[types.UID]string{}, existing: map[types.UID]v1alpha1.BrowserSession{},
		contexts: map[types.UID]v1alpha1.BrowserContext{}, sessionsOf: map[types.UID][]emulator.Session{}, releasedIDs: map[string]bool{},
		podOf: map[types.UID]types.UID{},
	}
	fig := func(phase string) *figures {
		if t.phases[phase] == nil {
			t.phases[phase] = &figures{}
		}
		return t.phases[phase]
	}
	for _, bs := range sessionList.Items {
		if ours(bs.Namespace) {
			t.existing[bs.UID] = bs
			t.names[bs.UID] = bs.Name
			if pod := bs.Labels[v1alpha1.LabelPodUID]; pod != "" {
				t.podOf[bs.UID] = types.UID(pod)
			}
		}
	}
	for _, bc := range contextList.Items {
		if ours(bc.Namespace) {
			t.contexts[bc.UID] = bc
		}
	}
	for uid, r := range recorded {
		t.names[uid] = r.name
		if r.podUID != "" {
			t.podOf[uid] = r.podUID
		}
	}

	order := map[string]int{}
	for i, s := range sessions {
		order[s.ID] = i
		if s.AnswerLost {
			t.lostAnswers++
		}
		uid := tagUID(s)
		if _, known := t.names[uid]; !known {
			t.orphans++
			continue
		}
		t.sessionsOf[uid] = append(t.sessionsOf[uid], s)
	}
	t.lostHere = map[string]bool{}
	for _, id := range c.front.lostAnswers() {
		t.lostHere[id] = true
		t.lostAnswers++
	}

	byKind := map[string]int{}
	contextsCreated := map[string]int{}
	contextsDeleted := map[string]string{} // context ids deleted (or already gone when deleted) → project
	for _, r := range requests {
		kind := r.Kind()
		byKind[fmt.Sprintf("%s:%d", kind, r.Status)]++
		if kind == "release" && r.Status == http.StatusOK {
			t.releases++
			t.releasedIDs[strings.TrimPrefix(r.Path, "/v1/sessions/")] = true
		}
		switch {
		case r.Path == "/v1/contexts" && r.Method == http.MethodPost && r.Status == http.StatusCreated:
			contextsCreated[r.ProjectID]++
		case strings.HasPrefix(r.Path, "/v1/contexts/") && r.Method == http.MethodDelete &&
			(r.Status == http.StatusNoContent || r.Status == http.StatusNotFound):
			contextsDeleted[strings.TrimPrefix(r.Path, "/v1/contexts/")] = r.ProjectID
		}
	}
	for k, n := range byKind {
		t.requests = append(t.requests, fmt.Sprintf("%s=%d", k, n))
	}
	sort.Strings(t.requests)

	// regressions counts the writes, in ids, that name a session older than the one before.
	regressions := func(ids []string) int {
		n, last := 0, -1
		for _, id := range ids {
			i, ok := order[id]
			if !ok {
				continue
			}
			if i < last {
				n++
			}
			last = i
		}
		return n
	}

	uids := map[types.UID]bool{}
	for uid := range recorded {
		uids[uid] = true
	}
	for uid := range t.existing {
		uids[uid] = true
	}
	now := time.Now()
	for uid := range uids {
		f := fig(phaseOf(t.names[uid]))
		f.resources++
		rec := recorded[uid]
		bs, exists := t.existing[uid]
		rev := rec.maxRevision
		if exists {
			f.existing++
			rev = max(rev, bs.Status.Revision)
		} else {
			f.gone++
		}
		all := t.sessionsOf[uid]
		recordedIDs := map[string]bool{}
		for _, id := range rec.ids {
			recordedIDs[id] = true
		}
		if exists {
			recordedIDs[bs.Status.ID], recordedIDs[bs.Status.PreviousID] = true, true
		}
		var recordedLives []emulator.Session
		for _, s := range all {
			if recordedIDs[s.ID] {
				recordedLives = append(recordedLives, s)
			}
		}
		duplicated := 0
		leaked := 0
		for _, s := range all {
			if !recordedIDs[s.ID] && !t.releasedIDs[s.ID] && slices.ContainsFunc(recordedLives, func(o emulator.Session) bool { return overlap(s, o, now) }) {
				duplicated++
			}
			if s.SharedContext {
				f.sharedContext++
			}
			if exists {
				if live(s) && s.ID != bs.Status.ID && s.ID != bs.Status.PreviousID {
					leaked++
				}
				continue
			}
			gone := rec.goneAt
			if gone.IsZero() {
				gone = now // missed by the watch: only what runs now counts
			}
			if live(s) || s.EndedAt != nil && s.EndedAt.After(gone) {
				leaked++
			}
		}
		f.sessions += len(all)
		f.renewed += int(max(rev-1, 0))
		f.wasted += max(len(all)-int(rev), 0)
		dup := min(duplicated, max(len(all)-int(rev), 0))
		f.duplicates += dup
		f.leaked += leaked
		regressed := regressions(rec.ids) + regressions(secrets[uid].values)
		f.regressions += regressed
		if dup > 0 || leaked > 0 || regressed > 0 {
			t.diagnosis = append(t.diagnosis, t.describe(uid, rec, int(rev), dup, leaked, regressed, secrets[uid].values))
		}
	}

	// BrowserContexts: contexts carry no tag, so they are counted by project, from the calls
	// the emulator answered, against the ids the operator's Secrets held.
	contextUIDs := map[types.UID]bool{}
	for uid := range contextRecords {
		contextUIDs[uid] = true
	}
	for uid := range t.contexts {
		contextUIDs[uid] = true
	}
	recordedIDs := map[string]map[string]bool{} // phase → ids held by its Secrets
	for uid := range contextUIDs {
		name := contextRecords[uid].name
		bc, exists := t.contexts[uid]
		if exists {
			name = bc.Name
		}
		phase := phaseOf(name)
		f := fig(phase)
		f.contexts++
		if recordedIDs[phase] == nil {
			recordedIDs[phase] = map[string]bool{}
		}
		ids := secrets[uid].values
		for i, id := range ids {
			recordedIDs[phase][id] = true
			// Every id the Secret held must be deleted, but the one an existing resource holds.
			current := exists && i == len(ids)-1
			if _, deleted := contextsDeleted[id]; !current && !deleted {
				f.contextsLeaked++
			}
		}
		switch {
		case !exists:
			f.contextsGone++
		case !bc.DeletionTimestamp.IsZero():
			f.contextsStuck++
		}
	}
	for phase, project := range phaseProject {
		f := fig(phase)
		f.contextsCreated = contextsCreated[project]
		accounted := maps.Clone(recordedIDs[phase])
		if accounted == nil {
			accounted = map[string]bool{}
		}
		for id, p := range contextsDeleted {
			if p == project {
				accounted[id] = true
			}
		}
		f.contextsUnrecorded = max(f.contextsCreated-len(accounted), 0)
	}
	for _, f := range t.phases {
		t.total.add(*f)
	}
	return t, nil
}

// describe tells what the emulator and the API server saw of one flagged resource. Session ids
// are not credentials; the Secret's values are only counted.
func (t *tally) describe(uid types.UID, rec sessionRecord, rev, dup, leaked, regressed int, secretValues []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s): %d sessions, revision %d, duplicates %d, leaked %d, regressions %d; status.id history %v; Secret values %d",
		t.names[uid], phaseOf(t.names[uid]), len(t.sessionsOf[uid]), rev, dup, leaked, regressed, rec.ids, len(secretValues))
	if !rec.goneAt.IsZero() {
		fmt.Fprintf(&b, "; gone at %s", rec.goneAt.Format(time.StampMilli))
	}
	if bs, ok := t.existing[uid]; ok {
		fmt.Fprintf(&b, "; status.id %q previousId %q", bs.Status.ID, bs.Status.PreviousID)
	}
	for _, s := range t.sessionsOf[uid] {
		tag, _ := s.UserMetadata[v1alpha1.ReservedMetadataKey].(map[string]any)
		ended := "-"
		if s.EndedAt != nil {
			ended = s.EndedAt.Format(time.StampMilli)
		}
		fmt.Fprintf(&b, "\n  session %s attempt %v status %s created %s ended %s released %v answerLost %v",
			s.ID, tag["attempt"], s.Status, s.CreatedAt.Format(time.StampMilli), ended, t.releasedIDs[s.ID], s.AnswerLost || t.lostHere[s.ID])
	}
	return b.String()
}
