#!/usr/bin/env bash
# Builds kube-apiserver and etcd for meshcheck's API-server test tier from the
# Go modules pinned in this folder's go.mod, into OUT (default
# <repo>/.cache/apiserver/bin). Skips the build when OUT holds both binaries
# and a stamp whose key matches the pinned sources and the Go toolchain.
#
# Usage: tools/apiserver/build.sh [OUT]
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="${1:-$repo/.cache/apiserver/bin}"
go="${GO:-go}"

k8s_version="$(awk '$1 == "k8s.io/kubernetes" {print $2; exit}' "$here/go.mod")"
etcd_version="$(awk '$1 == "go.etcd.io/etcd/server/v3" {print $2; exit}' "$here/go.mod")"
if [[ -z "$k8s_version" || -z "$etcd_version" ]]; then
	echo "apiserver-bins: cannot read the k8s.io/kubernetes and etcd versions from $here/go.mod" >&2
	exit 1
fi

# The key names every input of the build: a change to any of them rebuilds.
key="$(
	{
		echo "kubernetes $k8s_version"
		echo "etcd $etcd_version"
		"$go" env GOVERSION GOOS GOARCH
		cat "$here/go.mod" "$here/go.sum" "$here/build.sh" "$here"/cmd/*/main.go
	} | sha256sum | cut -d' ' -f1
)"
stamp="$out/.stamp"

if [[ -x "$out/kube-apiserver" && -x "$out/etcd" && -f "$stamp" ]] &&
	[[ "$(head -n1 "$stamp")" == "$key" ]]; then
	echo "apiserver-bins: up to date in $out (kube-apiserver $k8s_version, etcd $etcd_version)"
	exit 0
fi

mkdir -p "$out"
tmp="$(mktemp -d "$out/.build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

echo "apiserver-bins: building kube-apiserver $k8s_version and etcd $etcd_version into $out (cold: several minutes)"
start=$(date +%s)
minor="${k8s_version#v1.}"
minor="${minor%%.*}"
ldflags="-s -w"
ldflags+=" -X k8s.io/component-base/version.gitVersion=$k8s_version"
ldflags+=" -X k8s.io/component-base/version.gitMajor=1"
ldflags+=" -X k8s.io/component-base/version.gitMinor=$minor"
ldflags+=" -X k8s.io/component-base/version.gitTreeState=clean"
(
	cd "$here"
	export CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false" GOWORK=off
	"$go" build -trimpath -ldflags "$ldflags" -o "$tmp/kube-apiserver" ./cmd/kube-apiserver
	"$go" build -trimpath -ldflags "-s -w" -o "$tmp/etcd" ./cmd/etcd
)
"$tmp/kube-apiserver" --version >/dev/null
"$tmp/etcd" --version >/dev/null
mv -f "$tmp/kube-apiserver" "$tmp/etcd" "$out/"
printf '%s\nkube-apiserver %s\netcd %s\n' "$key" "$k8s_version" "$etcd_version" >"$stamp"
echo "apiserver-bins: built in $(($(date +%s) - start))s"
