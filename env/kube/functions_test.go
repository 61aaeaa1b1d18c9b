package kube

import (
	"bytes"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// TestWriteDryRunFunctions: the Functions of a scenario with backend
// openfaas are shown as the gateway deployments sent before the make phase
// (name, namespace, image, labels and the exact REST body), with images
// replaced as for Deployments, and are not among the applied objects.
func TestWriteDryRunFunctions(t *testing.T) {
	s := loadScenario(t, "testdata/openfaas")
	var out bytes.Buffer
	images := Images{Replace: map[string]string{"meshcheck.local/fixture:v0.1.0": "registry.example/fixture@sha256:abc"}}
	if err := writeDryRun(&out, s, images); err != nil {
		t.Fatal(err)
	}
	const head = "# scenario fnsplit, step 1/1 all-v1: before phase make: deploy through the OpenFaaS gateway (POST /system/functions, PUT when it exists; then wait for availableReplicas >= 1): "
	want := head + `function hello-v1 in namespace openfaas-fn: image registry.example/fixture@sha256:abc, labels app=hello,version=v1
#   body: {"service":"hello-v1","image":"registry.example/fixture@sha256:abc","namespace":"openfaas-fn","envVars":{"MESSAGE":"Hello V1"},"labels":{"app":"hello","version":"v1"},"readOnlyRootFilesystem":true}
` + head + `function hello-v2 in namespace openfaas-fn: image registry.example/fixture@sha256:abc, labels app=hello,version=v2
#   body: {"service":"hello-v2","image":"registry.example/fixture@sha256:abc","namespace":"openfaas-fn","envVars":{"MESSAGE":"Hello V2"},"labels":{"app":"hello","version":"v2"},"readOnlyRootFilesystem":true}
---
# scenario fnsplit, step 1/1 all-v1: phase make: apply Service openfaas-fn/hello
`
	if !strings.Contains(out.String(), want) {
		t.Errorf("dry-run lacks the function deployments:\n%s\nwant them as:\n%s", out.String(), want)
	}
	if strings.Contains(out.String(), "kind: Function") {
		t.Errorf("a Function is applied as an object:\n%s", out.String())
	}
}

// TestSplitFunctions: Functions go to the gateway, deletions included; the
// rest stays.
func TestSplitFunctions(t *testing.T) {
	s := loadScenario(t, "testdata/openfaas")
	ch, err := StepChange(s, 0)
	if err != nil {
		t.Fatal(err)
	}
	fn := ch.Apply[0]
	ch.Delete = append(ch.Delete, fn)
	rest, fc, err := SplitFunctions(ch)
	if err != nil {
		t.Fatal(err)
	}
	if len(fc.Deploy) != 2 || fc.Deploy[0].Spec.Name != "hello-v1" || fc.Deploy[1].Spec.Name != "hello-v2" || len(fc.Delete) != 1 {
		t.Errorf("functions = %+v", fc)
	}
	if len(rest.Apply) != len(ch.Apply)-2 || len(rest.Delete) != 0 {
		t.Errorf("rest = %d to apply, %d to delete; want %d and 0", len(rest.Apply), len(rest.Delete), len(ch.Apply)-2)
	}
	for _, o := range rest.Apply {
		if IsFunction(o) {
			t.Errorf("%s left among the objects to apply", refOf(o))
		}
	}
}

// TestImagesRewriteFunctionsOnly: Images.Functions replaces the image of
// OpenFaaS Functions only, after Replace; containers keep theirs, and the
// objects given are left alone.
func TestImagesRewriteFunctionsOnly(t *testing.T) {
	dep := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": "d", "namespace": "n"},
		"spec": map[string]any{"template": map[string]any{"spec": map[string]any{"containers": []any{map[string]any{"name": "c", "image": "meshcheck.local/fixture:v0.1.0"}}}}}}}
	fn := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "openfaas.com/v1", "kind": "Function", "metadata": map[string]any{"name": "f", "namespace": "openfaas-fn"},
		"spec": map[string]any{"name": "f", "image": "meshcheck.local/fixture:v0.1.0"}}}
	ch := Change{Apply: []*unstructured.Unstructured{dep, fn}}
	images := Images{Functions: map[string]string{"meshcheck.local/fixture:v0.1.0": "10.96.0.200:5000/fixture:v0.1.0"}}
	got, err := images.Rewrite(ch)
	if err != nil {
		t.Fatal(err)
	}
	cs, _, _ := unstructured.NestedSlice(got.Apply[0].Object, "spec", "template", "spec", "containers")
	if img := cs[0].(map[string]any)["image"]; img != "meshcheck.local/fixture:v0.1.0" {
		t.Errorf("Deployment image %v, want the loaded image kept", img)
	}
	if img, _, _ := unstructured.NestedString(got.Apply[1].Object, "spec", "image"); img != "10.96.0.200:5000/fixture:v0.1.0" {
		t.Errorf("Function image %s, want the registry's", img)
	}
	if img, _, _ := unstructured.NestedString(fn.Object, "spec", "image"); img != "meshcheck.local/fixture:v0.1.0" {
		t.Errorf("the original Function was changed: %s", img)
	}
	// Replace first (a registry for everything), then Functions.
	images.Replace = map[string]string{"meshcheck.local/fixture:v0.1.0": "reg.example/fixture:v0.1.0"}
	images.Functions = map[string]string{"reg.example/fixture:v0.1.0": "mirror.example/fixture:v0.1.0"}
	if got, err = images.Rewrite(ch); err != nil {
		t.Fatal(err)
	}
	cs, _, _ = unstructured.NestedSlice(got.Apply[0].Object, "spec", "template", "spec", "containers")
	img, _, _ := unstructured.NestedString(got.Apply[1].Object, "spec", "image")
	if cs[0].(map[string]any)["image"] != "reg.example/fixture:v0.1.0" || img != "mirror.example/fixture:v0.1.0" {
		t.Errorf("Replace then Functions: container %v, function %s", cs[0].(map[string]any)["image"], img)
	}
}
