package emulator

import (
	"os"
	"os/exec"
)

// FindChromium returns the first headless Chromium installed: Debian's chromium-headless-shell,
// then a full Chromium or Chrome (not the /usr/bin/chromium wrapper script, which reads
// /etc/chromium.d). "" when there is none.
func FindChromium() string {
	for _, p := range []string{"/usr/lib/chromium/chromium-headless-shell", "/usr/lib/chromium/chromium"} {
		if isExecutable(p) {
			return p
		}
	}
	for _, name := range []string{"chromium-headless-shell", "chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// FindChromedriver returns chromedriver's path, or "".
func FindChromedriver() string {
	if p, err := exec.LookPath("chromedriver"); err == nil {
		return p
	}
	if p := "/usr/lib/chromium/chromedriver"; isExecutable(p) {
		return p
	}
	return ""
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}
