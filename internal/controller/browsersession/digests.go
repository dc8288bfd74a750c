package browsersession

import (
	"crypto/sha256"
	"fmt"
	"maps"
	"slices"

	"github.com/browserbase/session-operator/api/v1alpha1"
)

// The operator remembers, per resource, the resourceVersion at which it last wrote or read the
// resource's Secret and digests of its data: enough to tell that the Secret still holds what a
// pass would write, without keeping the credentials in memory or reading them again. Empty after
// a restart, when each Secret is read once.

// secretDigest is what is remembered of one Secret.
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
		_, _ = fmt.Fprintf(h, "%d:%s%d:", len(k), k, len(v))
		h.Write(v)
	}
	var out [sha256.Size]byte
	h.Sum(out[:0])
	return out
}

// newSecretDigest is what is remembered of a Secret holding data at resourceVersion.
func newSecretDigest(resourceVersion string, data map[string][]byte) secretDigest {
	return secretDigest{
		resourceVersion: resourceVersion,
		all:             digest(data, slices.Sorted(maps.Keys(data))),
		session:         digest(data, sessionKeys),
	}
}

// holds reports whether the Secret, at resourceVersion, holds data: all of it when complete, else
// the keys of sessionKeys (the connect details then stay as they are).
func (d secretDigest) holds(resourceVersion string, data map[string][]byte, complete bool) bool {
	if d.resourceVersion != resourceVersion {
		return false
	}
	if complete {
		return d.all == digest(data, slices.Sorted(maps.Keys(data)))
	}
	return d.session == digest(data, sessionKeys)
}

// rememberDigests records that bs's Secret holds data at resourceVersion.
func (r *Reconciler) rememberDigests(bs *v1alpha1.BrowserSession, resourceVersion string, data map[string][]byte) {
	r.secretDigests.Set(bs.UID, newSecretDigest(resourceVersion, data))
}

// digestsHold reports whether bs's Secret, at resourceVersion, is known to hold data.
func (r *Reconciler) digestsHold(bs *v1alpha1.BrowserSession, resourceVersion string, data map[string][]byte, complete bool) bool {
	known, ok := r.secretDigests.Get(bs.UID)
	return ok && known.holds(resourceVersion, data, complete)
}
