package apiservertest

import (
	"crypto/sha256"
	"fmt"
	"os"
	"testing"
)

// KubeconfigFingerprint returns the mode, modification time and content hash
// of the server's kubeconfig file, so that a test can show that code given
// the file only read it.
func (s *Server) KubeconfigFingerprint(t testing.TB) string {
	t.Helper()
	info, err := os.Stat(s.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(s.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%v %v %x", info.Mode(), info.ModTime(), sha256.Sum256(data))
}
