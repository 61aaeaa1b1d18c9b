package apiservertest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAssetsDirSaysHowToBuild checks that missing binaries produce an error
// that tells how to build them (tests then fail with it, never skip).
func TestAssetsDirSaysHowToBuild(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(AssetsEnv, dir)
	_, err := AssetsDir()
	if err == nil || !strings.Contains(err.Error(), "make apiserver-bins") || !strings.Contains(err.Error(), dir) {
		t.Errorf("AssetsDir with an empty folder: err = %v, want one naming the folder and make apiserver-bins", err)
	}
	for _, bin := range []string{"kube-apiserver", "etcd"} {
		if err := os.WriteFile(filepath.Join(dir, bin), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	got, err := AssetsDir()
	if err != nil || got != dir {
		t.Errorf("AssetsDir = %q, %v; want %q", got, err, dir)
	}
	if err := os.Chmod(filepath.Join(dir, "etcd"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := AssetsDir(); err == nil || !strings.Contains(err.Error(), "etcd") {
		t.Errorf("AssetsDir with a non-executable etcd: err = %v", err)
	}
}

// TestIstioCRDs checks that Istio's CRD file is found in the istio.io/api
// module go.mod pins.
func TestIstioCRDs(t *testing.T) {
	path, err := IstioCRDs()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, crd := range []string{"virtualservices.networking.istio.io", "destinationrules.networking.istio.io", "gateways.networking.istio.io"} {
		if !strings.Contains(string(data), "name: "+crd) {
			t.Errorf("%s lacks the CRD %s", path, crd)
		}
	}
}
