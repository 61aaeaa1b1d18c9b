package openfaas

import "testing"

// FuzzLoad: whatever bytes --openfaas-chart names, Load returns a chart of
// the pinned name and version or an error, and never panics. The pin takes
// each input's own digest so that the loader sees it (a real pin stops any
// other bytes at the digest check).
func FuzzLoad(f *testing.F) {
	data, _ := testPin(f, "")
	f.Add(data)
	f.Add([]byte{})
	f.Add([]byte("\x1f\x8b\x08\x00not a tar"))
	f.Add(buildArchive(f, map[string]string{"openfaas/Chart.yaml": "apiVersion: v2\nname: other\nversion: 1.0.0\n"}))
	f.Fuzz(func(t *testing.T, in []byte) {
		pin := Pin{Name: "openfaas", Version: "0.0.1-test", Digest: sha(in)}
		ch, err := pin.Load("fuzz.tgz", in)
		if err == nil && (ch.Metadata.Name != pin.Name || ch.Metadata.Version != pin.Version) {
			t.Fatalf("Load accepted chart %s %s, want %s %s", ch.Metadata.Name, ch.Metadata.Version, pin.Name, pin.Version)
		}
	})
}
