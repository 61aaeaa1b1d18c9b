#!/usr/bin/env bash
# Builds pilot-discovery (istiod) and istioctl for meshcheck's control-plane
# test tier from the istio.io/istio commit pinned in this folder's go.mod (the
# commit the Istio release is tagged on), stamped with that release's version,
# into OUT (default <repo>/.cache/istio/bin). Skips the build when OUT holds
# both binaries and a stamp whose key matches the pinned sources and the Go
# toolchain.
#
# Usage: tools/istio/build.sh [OUT]
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="${1:-$repo/.cache/istio/bin}"
go="${GO:-go}"

# The Istio release the pinned commit is tagged on, and that commit. The
# pseudo-version in go.mod must name the same commit: checked below.
release=1.31.0
revision=eed52ebb66ad

istio_version="$(awk '$1 == "istio.io/istio" {print $2; exit}' "$here/go.mod")"
if [[ "$istio_version" != *"-$revision" ]]; then
	echo "istio-bins: $here/go.mod pins istio.io/istio $istio_version, not commit $revision of Istio $release" >&2
	exit 1
fi

# The key names every input of the build: a change to any of them rebuilds.
key="$(
	{
		echo "istio $istio_version $release"
		"$go" env GOVERSION GOOS GOARCH
		cat "$here/go.mod" "$here/go.sum" "$here/build.sh"
	} | sha256sum | cut -d' ' -f1
)"
stamp="$out/.stamp"

if [[ -x "$out/pilot-discovery" && -x "$out/istioctl" && -f "$stamp" ]] &&
	[[ "$(head -n1 "$stamp")" == "$key" ]]; then
	echo "istio-bins: up to date in $out (Istio $release, istio.io/istio $istio_version)"
	exit 0
fi

mkdir -p "$out"
tmp="$(mktemp -d "$out/.build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

echo "istio-bins: building pilot-discovery and istioctl of Istio $release into $out (cold: about half an hour)"
start=$(date +%s)
# Without the version stamp istioctl reports "unknown" and renders test images.
pkg=istio.io/istio/pkg/version
ldflags="-s -w"
ldflags+=" -X $pkg.buildVersion=$release"
ldflags+=" -X $pkg.buildHub=docker.io/istio"
ldflags+=" -X $pkg.buildTag=$release"
ldflags+=" -X $pkg.buildGitRevision=$revision"
ldflags+=" -X $pkg.buildStatus=Clean"
(
	cd "$here"
	export CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false" GOWORK=off
	"$go" build -trimpath -ldflags "$ldflags" -o "$tmp/pilot-discovery" istio.io/istio/pilot/cmd/pilot-discovery
	"$go" build -trimpath -ldflags "$ldflags" -o "$tmp/istioctl" istio.io/istio/istioctl/cmd/istioctl
)
"$tmp/pilot-discovery" version --short >/dev/null
if [[ "$("$tmp/istioctl" version --remote=false --short 2>/dev/null)" != "client version: $release" ]]; then
	echo "istio-bins: istioctl does not report version $release" >&2
	exit 1
fi
mv -f "$tmp/pilot-discovery" "$tmp/istioctl" "$out/"
printf '%s\nistio %s\nistio.io/istio %s\n' "$key" "$release" "$istio_version" >"$stamp"
echo "istio-bins: built in $(($(date +%s) - start))s"
