package operator

import (
	"crypto/sha256"
	"encoding/hex"
)

// digestPrefix names the hash of a digest, so that another can follow.
const digestPrefix = "sha256:"

// ContextIDDigest is what a BrowserContext's status.idDigest records of its context id: enough
// to tell the id the operator created from another, nothing that gives the id back (context ids
// are random UUIDs). The BrowserSession controller checks the id it loads against it too.
func ContextIDDigest(id string) string {
	sum := sha256.Sum256([]byte(id))
	return digestPrefix + hex.EncodeToString(sum[:])
}
