// Package charttest builds, in tests, a small Helm chart archive shaped like
// the OpenFaaS chart, and the pin (version and sha256) that accepts it.
package charttest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"testing"
)

// Files is a small chart shaped like the OpenFaaS chart: the
// pre-install basic-auth Secret, a gateway Deployment and Service in the
// release namespace reading gateway.directFunctions, and STRICT
// PeerAuthentications guarded by istio.mtls in the release and function
// namespaces.
var Files = map[string]string{
	"openfaas/Chart.yaml": "apiVersion: v2\nname: openfaas\nversion: 0.0.1-test\ntype: application\n",
	"openfaas/values.yaml": `functionNamespace: openfaas-fn
openfaasPro: false
generateBasicAuth: true
exposeServices: true
gateway:
  directFunctions: false
  image: registry.example/gateway:test
istio:
  mtls: false
`,
	"openfaas/templates/NOTES.txt": "OpenFaaS is installed in {{ .Release.Namespace }}.\n",
	"openfaas/templates/secret.yaml": `{{- if .Values.generateBasicAuth }}
apiVersion: v1
kind: Secret
metadata:
  name: basic-auth
  namespace: {{ .Release.Namespace | quote }}
  annotations:
    "helm.sh/hook": "pre-install"
data:
  basic-auth-user: {{ "admin" | b64enc | quote }}
  basic-auth-password: {{ randAlphaNum 32 | b64enc | quote }}
{{- end }}
`,
	"openfaas/templates/gateway-dep.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: gateway
  namespace: {{ .Release.Namespace | quote }}
  labels:
    app: gateway
    release: {{ .Release.Name }}
spec:
  replicas: 1
  selector:
    matchLabels:
      app: gateway
  template:
    metadata:
      labels:
        app: gateway
    spec:
      containers:
      - name: gateway
        image: {{ .Values.gateway.image }}
        env:
        - name: direct_functions
          value: {{ .Values.gateway.directFunctions | quote }}
        - name: function_namespace
          value: {{ .Values.functionNamespace | quote }}
        - name: pro
          value: {{ .Values.openfaasPro | quote }}
        ports:
        - name: http
          containerPort: 8080
`,
	"openfaas/templates/gateway-svc.yaml": `apiVersion: v1
kind: Service
metadata:
  name: gateway
  namespace: {{ .Release.Namespace | quote }}
spec:
  selector:
    app: gateway
  ports:
  - name: http
    port: 8080
    targetPort: http
`,
	"openfaas/templates/istio-mtls.yaml": `{{- $fns := default .Release.Namespace .Values.functionNamespace }}
{{- if .Values.istio.mtls }}
{{- range $ns := list $.Release.Namespace $fns | uniq }}
---
apiVersion: security.istio.io/v1beta1
kind: PeerAuthentication
metadata:
  name: default
  namespace: {{ $ns }}
spec:
  mtls:
    mode: STRICT
{{- end }}
{{- end }}
`,
}

// Build returns the gzipped tar of files, as `helm package` makes.
func Build(t testing.TB, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(files[n])), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(files[n])); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Version is the version of the chart in Files.
const Version = "0.0.1-test"

// Archive returns the archive of Files and its hex sha256.
func Archive(t testing.TB) (data []byte, digest string) {
	t.Helper()
	data = Build(t, Files)
	return data, SHA256(data)
}

// SHA256 is the hex sha256 of data.
func SHA256(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
