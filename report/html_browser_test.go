//go:build browser && unix

package report

import (
	"bytes"
	"context"
	"errors"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// requireBrowserEnv, when set (CI sets it), makes a missing chromium a
// failure instead of a skip.
const requireBrowserEnv = "MESHCHECK_REQUIRE_BROWSER"

// chromiumTimeout bounds one run of chromium.
const chromiumTimeout = 90 * time.Second

// consoleLine matches a console message in chromium's log on stderr
// (--enable-logging=stderr): "[pid:tid:date:INFO:CONSOLE:12] "text",
// source: file:///... (12)" (older releases wrote "CONSOLE(12)"). Chromium
// logs every console message at INFO whatever its level
// (content/browser/renderer_host/render_frame_host_impl.cc,
// LogConsoleMessage), so the check is for none at all: the page has no
// script, and a blocked fetch or a parse problem is the only thing that
// could log.
var consoleLine = regexp.MustCompile(`:CONSOLE[:(]\d+\)?\]`)

// chromium returns the path of Debian's chromium, skipping the test when it
// is missing unless MESHCHECK_REQUIRE_BROWSER is set.
func chromium(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv(requireBrowserEnv) != "" {
			t.Fatalf("chromium is not installed and %s is set: install Debian's chromium (apt-get install chromium)", requireBrowserEnv)
		}
		t.Skipf("chromium is not installed (apt-get install chromium); set %s to make this a failure", requireBrowserEnv)
	}
	return path
}

// runChromium runs headless chromium on the page at path with the extra
// arguments, in its own profile folder, and returns its stdout and stderr.
// No network: the page is a file, and the flags turn off chromium's own
// background fetches.
func runChromium(t *testing.T, bin, path string, extra ...string) (stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), chromiumTimeout)
	defer cancel()
	args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--user-data-dir=" + t.TempDir(),
		"--enable-logging=stderr", "--v=0"}, extra...)
	cmd := exec.CommandContext(ctx, bin, append(args, "file://"+path)...)
	// Chromium forks renderers and helpers: the timeout kills them all.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("chromium did not finish within %s:\n%s", chromiumTimeout, errOut.String())
	}
	if err != nil {
		t.Fatalf("chromium %s: %v\n%s", strings.Join(extra, " "), err, errOut.String())
	}
	return out.String(), errOut.String()
}

// consoleMessages returns the console lines of a chromium log.
func consoleMessages(log string) []string {
	var lines []string
	for _, l := range strings.Split(log, "\n") {
		if consoleLine.MatchString(l) {
			lines = append(lines, l)
		}
	}
	return lines
}

// writePage writes page to a file in a new folder and returns its path.
func writePage(t *testing.T, page string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(path, []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestHTMLInChromium loads the report of a run with passing, failing and
// undecided probes in headless chromium: it logs no console message, its
// DOM holds the verdicts and the charts, and its screenshot shows the page
// (most of it not background, the FAIL banner red). First, a copy of the
// page with an image from the network must log the blocked fetch: that
// proves the console check sees what it looks for.
func TestHTMLInChromium(t *testing.T) {
	bin := chromium(t)
	r := chartRun(t)
	page := renderHTML(t, r)

	fetching := strings.Replace(page, "</main>", `<img src="http://192.0.2.1/pixel.png" alt=""></main>`, 1)
	if _, log := runChromium(t, bin, writePage(t, fetching), "--dump-dom"); !strings.Contains(strings.Join(consoleMessages(log), "\n"), "Content Security Policy") {
		t.Fatalf("a page fetching an image logged no Content-Security-Policy console message; the console check is blind:\n%s", log)
	}

	path := writePage(t, page)
	dom, log := runChromium(t, bin, path, "--dump-dom")
	if msgs := consoleMessages(log); len(msgs) > 0 {
		t.Errorf("the page logged to the console:\n%s", strings.Join(msgs, "\n"))
	}
	for _, want := range []string{`<div class="verdict">FAIL</div>`, "<svg", "<polygon class=\"ci s0\"", "Emulated run:",
		"<li>" + r.Probes[1].Result.Failures()[0] + "</li>", ">INCONCLUSIVE</span>", ">PASS</span>"} {
		if !strings.Contains(dom, want) {
			t.Errorf("the DOM lacks %s", want)
		}
	}
	if got := strings.Count(dom, "<svg"); got != 6 {
		t.Errorf("the DOM has %d charts, want 6 (a share chart per probe, an errors chart for the FAIL and the INCONCLUSIVE)", got)
	}

	shot := filepath.Join(t.TempDir(), "s.png")
	_, log = runChromium(t, bin, path, "--screenshot="+shot, "--window-size=1200,2000", "--hide-scrollbars")
	if msgs := consoleMessages(log); len(msgs) > 0 {
		t.Errorf("the page logged to the console:\n%s", strings.Join(msgs, "\n"))
	}
	checkScreenshot(t, shot)
}

// checkScreenshot decodes the PNG at path: it is 1200 wide, a good part of
// it is not the white background, it has many colours (text antialiasing,
// bands, badges) and a block of the FAIL banner's red (#cf222e).
func checkScreenshot(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	b := img.Bounds()
	if b.Dx() != 1200 {
		t.Errorf("screenshot is %v, want 1200 wide", b)
	}
	var ink, red int
	colours := map[[3]uint32]bool{}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			c := [3]uint32{cr >> 8, cg >> 8, cb >> 8}
			colours[c] = true
			if c != [3]uint32{255, 255, 255} {
				ink++
			}
			if near(c, [3]uint32{0xcf, 0x22, 0x2e}) {
				red++
			}
		}
	}
	area := b.Dx() * b.Dy()
	t.Logf("screenshot %v: %.1f%% not background, %d colours, %d banner-red pixels", b, 100*float64(ink)/float64(area), len(colours), red)
	if ink < area/20 {
		t.Errorf("screenshot is nearly blank: %d of %d pixels are not background", ink, area)
	}
	if len(colours) < 100 {
		t.Errorf("screenshot has %d colours, want 100 or more", len(colours))
	}
	if red < 20000 {
		t.Errorf("screenshot has %d pixels of the FAIL banner's red, want a banner (20,000 or more)", red)
	}
}

// near reports whether two colours differ by at most 8 per channel.
func near(a, b [3]uint32) bool {
	for i := range a {
		if max(a[i], b[i])-min(a[i], b[i]) > 8 {
			return false
		}
	}
	return true
}
