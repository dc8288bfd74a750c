package podinjector

import (
	"strings"

	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/validation"
)

// suffixLength is the length of the random part of a Secret's name: generateName's.
const suffixLength = 5

// randomSuffix draws from the alphabet generateName uses (no vowels, no look-alike digits).
func randomSuffix() string { return rand.String(suffixLength) }

// secretName is <template>-<suffix>, a valid DNS-1123 subdomain of at most 253 characters: a long
// template name is cut, and a cut that ends in '.' or '-' is trimmed so that the name stays
// valid.
func secretName(template, suffix string) string {
	maxBase := validation.DNS1123SubdomainMaxLength - 1 - len(suffix)
	base := template
	if len(base) > maxBase {
		base = strings.TrimRight(base[:maxBase], ".-")
	}
	return base + "-" + suffix
}
