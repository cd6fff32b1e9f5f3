#!/usr/bin/env bash
# Builds the real toolchain (Pulumi CLI, Python language host, Kubernetes provider, a
# Kubernetes control plane, kwok, actionlint, Argo CD with helm, kustomize and redis) from the
# Go module proxy and Debian's packages into a cache outside the repository.
# See toolchain/README.md.
#
#   toolchain/build.sh            build what is missing, print nothing but progress
#   toolchain/build.sh --bin-dir  print the bin directory of this version set (builds nothing)
#   toolchain/build.sh --check    exit 0 when everything is built, 1 otherwise
#
# Idempotent (a component whose key is built is skipped), resumable (Go's build cache keeps
# compiled packages of an interrupted build), safe against two runs at once (flock).
set -Eeuo pipefail
shopt -s inherit_errexit # a failing step inside $(...) fails the build too

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
modules="$here/modules"
cache="${GITOPS_TOOLCHAIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gitops-platform}"

export GOMODCACHE="$cache/gomod"
export GOCACHE="$cache/gocache"
# No DWARF: every binary is linked with -s -w (stripped), so generating it while compiling
# was work thrown away at link time.
export GOFLAGS="-mod=readonly -buildvcs=false -trimpath -gcflags=all=-dwarf=false"
export GOTOOLCHAIN=local
export CGO_ENABLED=0

# component -> binaries it produces (the `tool` lines of its go.mod, plus extras).
components=(pulumi pulumi-language-python pulumi-resource-kubernetes etcd kube kwok kind actionlint
	helm kustomize argocd rollouts sealed-secrets redis kyverno cosign crane)

go_version() { go env GOVERSION; }

# The key of a component: its module files, this script and the Go version.
component_key() {
	local c="$1"
	{
		go_version
		if [[ -f "$modules/$c/ui" ]]; then node --version; fi
		sha256sum <"$here/build.sh"
		(cd "$modules/$c" && find . -type f | LC_ALL=C sort | xargs sha256sum)
	} | sha256sum | cut -c1-16
}

toolchain_key() {
	local c
	for c in "${components[@]}"; do component_key "$c"; done | sha256sum | cut -c1-16
}

bin_dir() { echo "$cache/sets/$(toolchain_key)/bin"; }

# module_version DIR MODULE: the version a wrapper module pins.
module_version() { (cd "$1" && go list -m -f '{{.Version}}' "$2"); }
module_dir() { (cd "$1" && go list -m -f '{{.Dir}}' "$2"); }

log() { printf '[toolchain] %s\n' "$*" >&2; }

current_step=""
on_error() {
	# The trap runs in every $(...) level the failure passes through: report it once, outside.
	[[ $BASH_SUBSHELL -eq 0 ]] || return 0
	log "FAILED at step '$current_step'; its log: $cache/logs/$current_step.log (last lines below)"
	tail -n 30 "$cache/logs/$current_step.log" >&2 2>/dev/null || true
}

# build_tool WORKDIR OUTDIR PACKAGE LDFLAGS [NAME]
build_tool() {
	local work="$1" out="$2" pkg="$3" ldflags="$4" name="${5:-}" start
	[[ -n "$name" ]] || name="$(basename "$pkg")"
	[[ "$pkg" == "." && -z "${5:-}" ]] && name="$(basename "$work")"
	start=$SECONDS
	log "  building $name ..."
	(cd "$work" && go build -ldflags "-s -w $ldflags" -o "$out/$name" "$pkg") \
		>>"$cache/logs/$current_step.log" 2>&1
	log "  built $name in $((SECONDS - start))s"
}

# Argo CD and Argo Rollouts are built from their own modules (their go.mod files carry the
# replaces they need): the pinned zip (modules/<c>/module: path, version, go.sum hash) is
# copied out of the module cache into a writable tree and patched there with
# modules/<c>/patches/*.patch, each file saying why.
# module_copy WORK: prints the patched source tree.
module_copy() {
	local work="$1" mod ver sum got dir p
	read -r mod ver sum < <(grep -v '^#' "$work/module")
	log "$current_step: downloading $mod@$ver"
	got="$(cd "$work" && GOFLAGS=-mod=mod go mod download -json "$mod@$ver" \
		2>>"$cache/logs/$current_step.log")"
	dir="$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' <<<"$got")"
	if ! grep -qF "\"Sum\": \"$sum\"" <<<"$got"; then
		echo "$mod@$ver does not have the pinned hash $sum" >>"$cache/logs/$current_step.log"
		return 1
	fi
	rm -rf "$work/src" && cp -R "$dir" "$work/src" && chmod -R u+w "$work/src"
	for p in "$work"/patches/*.patch; do
		[[ -f "$p" ]] || continue
		log "  applying $(basename "$p")"
		(cd "$work/src" && git apply --verbose "$p") >>"$cache/logs/$current_step.log" 2>&1
	done
	extract_vendored "$work" "$work/src"
	log "$current_step: downloading modules"
	(cd "$work/src" && go mod download) >>"$cache/logs/$current_step.log" 2>&1
	echo "$work/src"
}

# Sources no registry serves come from ../shared/vendor (its README says what and why):
# modules/<c>/vendor lists `<archive> <sha256>`; each is hash-checked, then extracted into the
# source tree (its own top folder kept, e.g. gitops-engine/ beside Argo CD's go.mod).
vendor_dir="${GITOPS_VENDOR_DIR:-$here/../../shared/vendor}"
check_vendored() {
	local name="$1" sum="$2" got
	if [[ ! -f "$vendor_dir/$name" ]]; then
		echo "toolchain: $vendor_dir/$name is missing (modules/$current_step needs it)" \
			>>"$cache/logs/$current_step.log"
		return 1
	fi
	got="$(sha256sum <"$vendor_dir/$name" | cut -d' ' -f1)"
	if [[ "$got" != "$sum" ]]; then
		echo "toolchain: $vendor_dir/$name has sha256 $got, not the pinned $sum" \
			>>"$cache/logs/$current_step.log"
		return 1
	fi
}
extract_vendored() {
	local work="$1" src="$2" name sum
	[[ -f "$work/vendor" ]] || return 0
	while read -r name sum; do
		check_vendored "$name" "$sum"
		log "  extracting $name"
		tar -xzf "$vendor_dir/$name" -C "$src"
	done < <(grep -v '^#' "$work/vendor" | grep .)
}

# The web UIs (Argo CD's, and the Rollouts dashboard) are built from the module's ui/ with yarn
# v1 (both lockfiles are yarn v1; --frozen-lockfile: the versions upstream ships) on the
# machine's Node, and go:embedded by the Go build that follows. Their one dependency no registry
# serves, argo-ui at the commit the lockfile pins, comes from ../shared/vendor through yarn's
# offline mirror (a file named argo-ui.git-<commit>, which yarn reads before any git call).
# modules/<c>/ui: `<commit> <archive> <sha256>`. A built dist/app is cached under its own key
# (sources, lockfile, argo-ui, Node, yarn, build env, this recipe), so an edit of this script
# relinks the Go binaries without rebuilding the UIs.
yarn_version=1.22.22
yarn_js() {
	local dir="$cache/node-tools/yarn-$yarn_version"
	if [[ ! -f "$dir/.done" ]]; then
		log "  installing yarn $yarn_version"
		rm -rf "$dir" && mkdir -p "$dir"
		npm install --prefix "$dir" --no-save --no-audit --no-fund --ignore-scripts \
			"yarn@$yarn_version" >>"$cache/logs/$current_step.log" 2>&1
		touch "$dir/.done"
	fi
	echo "$dir/node_modules/yarn/bin/yarn.js"
}

# build_ui WORK UI_DIR ENV...: prints the built dist/app folder.
build_ui() {
	local work="$1" ui="$2" commit archive sum key dist yarn reg start
	shift 2
	read -r commit archive sum < <(grep -v '^#' "$work/ui" | grep .)
	# The module line (its zip's hash covers ui/src) and the patches key the sources.
	key="$({
		grep -v '^#' "$work/module"
		cat "$work"/patches/*.patch 2>/dev/null || true
		sha256sum <"$ui/package.json"
		sha256sum <"$ui/yarn.lock"
		echo "$sum $(node --version) $yarn_version $*"
		declare -f build_ui
	} | sha256sum | cut -c1-16)"
	dist="$cache/ui/$current_step/$key"
	echo "$key" >"$cache/ui/$current_step.current" # what prune keeps
	if [[ -f "$dist/.done" ]]; then
		log "  ui: up to date ($key)"
		echo "$dist/app"
		return 0
	fi
	start=$SECONDS
	check_vendored "$archive" "$sum"
	# yarn's offline mirror, in the build's scratch folder: the vendored argo-ui as the file
	# yarn looks for. yarn untars a git dependency's mirror file as `git archive` writes it: a
	# plain tar (not gzipped), and without the vendor archive's argo-ui/ prefix.
	local mirror="$work/yarn-mirror" tmp
	tmp="$(mktemp -d)"
	tar -xzf "$vendor_dir/$archive" -C "$tmp"
	mkdir -p "$mirror"
	(cd "$tmp/argo-ui" && shopt -s dotglob && tar -cf "$mirror/argo-ui.git-$commit" \
		--owner=0 --group=0 --numeric-owner --sort=name --mtime=@0 -- *)
	rm -rf "$tmp"
	yarn="$(yarn_js)"
	printf 'yarn-offline-mirror "%s"\n' "$mirror" >"$ui/.yarnrc"
	# The lockfile names registry hosts; the registry npm is configured with serves the same
	# tarball paths (integrity still checked). Done in the scratch copy only.
	reg="$(npm config get registry)"
	sed -E -i "s#^(  resolved \")https://[^/]+/#\1${reg%/}/#" "$ui/yarn.lock"
	log "  ui: installing packages (yarn $yarn_version, node $(node --version))"
	(cd "$ui" && node "$yarn" install --frozen-lockfile --non-interactive --ignore-scripts \
		--cache-folder "$work/yarn-cache" --network-timeout 300000) \
		>>"$cache/logs/$current_step.log" 2>&1
	log "  ui: building"
	(cd "$ui" && env "$@" node "$yarn" build) >>"$cache/logs/$current_step.log" 2>&1
	rm -rf "$dist" && mkdir -p "$dist" && cp -R "$ui/dist/app" "$dist/app"
	touch "$dist/.done"
	log "  built the ui in $((SECONDS - start))s"
	echo "$dist/app"
}

# One Argo CD binary serves every role (ARGOCD_BINARY_NAME, or the name it is called by);
# argocd-server serves the web UI embedded in it (ui/embed.go).
build_argocd() {
	local work="$1" out="$2" src mod=github.com/argoproj/argo-cd/v3 ver app
	src="$(module_copy "$work")"
	ver="$(grep -v '^#' "$work/module" | cut -d' ' -f2)"
	app="$(build_ui "$work" "$src/ui" NODE_ENV=production NODE_ONLINE_ENV=online HOST_ARCH=amd64 \
		NODE_OPTIONS=--max_old_space_size=8192 "ARGO_VERSION=$ver")"
	rm -rf "$src/ui/dist/app" && cp -R "$app" "$src/ui/dist/app"
	local flags="-X $mod/common.version=${ver#v} -X $mod/common.gitTag=$ver"
	flags+=" -X $mod/common.gitTreeState=clean -X $mod/common.buildDate=1970-01-01T00:00:00Z"
	flags+=" -X $mod/common.kubectlVersion=$(module_version "$src" k8s.io/client-go)"
	build_tool "$src" "$out" ./cmd "$flags" argocd
}

build_rollouts() {
	local work="$1" out="$2" src ver
	src="$(module_copy "$work")"
	ver="$(grep -v '^#' "$work/module" | cut -d' ' -f2)"
	build_tool "$src" "$out" ./cmd/rollouts-controller \
		"-X github.com/argoproj/argo-rollouts/utils/version.version=${ver#v}" rollouts-controller
	# The dashboard (`kubectl argo rollouts dashboard`) serves the UI embedded from server/static.
	local app
	app="$(build_ui "$work" "$src/ui" NODE_ENV=production NODE_OPTIONS=--max_old_space_size=4096 \
		"VERSION=$ver")"
	cp -R "$app/." "$src/server/static/"
	# The kubectl plugin: `kubectl argo rollouts promote|abort|get|dashboard` against the local
	# cluster.
	build_tool "$src" "$out" ./cmd/kubectl-argo-rollouts \
		"-X github.com/argoproj/argo-rollouts/utils/version.version=${ver#v}" kubectl-argo-rollouts
}

# The Sealed Secrets controller (patched: a kubeconfig outside a cluster) and kubeseal, from
# one module.
build_sealed_secrets() {
	local work="$1" out="$2" src ver
	src="$(module_copy "$work")"
	ver="$(grep -v '^#' "$work/module" | cut -d' ' -f2)"
	build_tool "$src" "$out" ./cmd/controller "-X main.VERSION=${ver#v}" sealed-secrets-controller
	build_tool "$src" "$out" ./cmd/kubeseal "-X main.VERSION=${ver#v}" kubeseal
}

# The Kyverno admission controller, unmodified; its CRDs and its chart (the same version: the
# stack renders the admission controller's ServiceAccount and RBAC from it) stay in the build
# folder beside it.
build_kyverno() {
	local work="$1" out="$2" src ver
	src="$(module_copy "$work")"
	ver="$(grep -v '^#' "$work/module" | cut -d' ' -f2)"
	build_tool "$src" "$out" ./cmd/kyverno \
		"-X github.com/kyverno/kyverno/pkg/version.BuildVersion=$ver" kyverno
	cp -R "$src/config/crds" "$out/crds"
	cp -R "$src/charts/kyverno" "$out/chart"
}

# redis-server for Argo CD's cache: Debian packages pinned in modules/redis/packages,
# extracted into the cache (no system-wide install, no service started). The wrapper sets the
# library path to the extracted libraries.
fetch_redis() {
	local work="$1" out="$2" pkgs deb
	mapfile -t pkgs < <(grep -v '^#' "$work/packages" | grep .)
	log "redis: downloading ${pkgs[*]}"
	mkdir -p "$work/debs"
	if ! (cd "$work/debs" && apt-get download "${pkgs[@]}") >>"$cache/logs/$current_step.log" 2>&1; then
		log "  package lists lack them; running apt-get update"
		apt-get update >>"$cache/logs/$current_step.log" 2>&1
		(cd "$work/debs" && apt-get download "${pkgs[@]}") >>"$cache/logs/$current_step.log" 2>&1
	fi
	for deb in "$work"/debs/*.deb; do dpkg -x "$deb" "$out/root"; done
	ln -sf redis-check-rdb "$out/root/usr/bin/redis-server"
	cat >"$out/redis-server" <<-'WRAPPER'
		#!/bin/sh
		# redis-server from Debian's redis-tools, extracted by toolchain/build.sh.
		here="$(dirname "$(readlink -f "$0")")"
		LD_LIBRARY_PATH="$here/root/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
			exec "$here/root/usr/bin/redis-server" "$@"
	WRAPPER
	chmod 0755 "$out/redis-server"
	"$out/redis-server" --version >>"$cache/logs/$current_step.log" 2>&1
	log "  redis-server: $("$out/redis-server" --version | cut -d' ' -f1-3)"
}

build_component() {
	local c="$1" key out work v
	key="$(component_key "$c")"
	out="$cache/builds/$c/$key"
	if [[ -f "$out/.done" ]]; then
		log "$c: up to date ($key)"
		return 0
	fi
	current_step="$c"
	: >"$cache/logs/$c.log"
	rm -rf "$out" && mkdir -p "$out"
	# Build in a scratch copy: the repository stays untouched and read-only checkouts work.
	work="$cache/work/$c"
	rm -rf "$work" && mkdir -p "$work" && cp -R "$modules/$c/." "$work/" && chmod -R u+w "$work"
	case "$c" in
	argocd | rollouts | sealed-secrets | kyverno | redis) ;; # not a wrapper module: their recipes fetch what they need
	*)
		log "$c: downloading modules"
		(cd "$work" && go mod download) >>"$cache/logs/$c.log" 2>&1
		;;
	esac
	case "$c" in
	pulumi)
		v="$(module_version "$work" github.com/pulumi/pulumi/pkg/v3)"
		build_tool "$work" "$out" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi \
			"-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$v"
		;;
	pulumi-language-python)
		v="$(module_version "$work" github.com/pulumi/pulumi/sdk/v3)"
		build_tool "$work" "$out" . "-X main.version=${v#v}"
		local sdk
		sdk="$(module_dir "$work" github.com/pulumi/pulumi/sdk/v3)"
		# The exec shim and the dynamic-provider launcher ship in the sdk/v3 module (module
		# zips drop the execute bit): the launcher the Pulumi CLI installs, unmodified.
		install -m 0755 "$sdk/python/cmd/pulumi-language-python-exec" "$out/"
		install -m 0755 "$sdk/python/dist/pulumi-resource-pulumi-python" "$out/"
		;;
	pulumi-resource-kubernetes)
		local pdir pv
		pdir="$(module_dir "$work" github.com/pulumi/pulumi-kubernetes/provider/v4)"
		pv="$(cat "$work/VERSION")"
		install -m 0644 "$pdir/cmd/pulumi-resource-kubernetes/schema.json" "$work/schema.json"
		install -m 0644 "$pdir/cmd/pulumi-resource-kubernetes/terraform-mapping.json" \
			"$work/terraform-mapping.json"
		build_tool "$work" "$out" . \
			"-X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$pv"
		;;
	kube)
		v="$(module_version "$work" k8s.io/kubernetes)"
		local minor
		minor="$(echo "$v" | cut -d. -f2)"
		local kflags="-X k8s.io/component-base/version.gitVersion=$v"
		kflags+=" -X k8s.io/component-base/version.gitMajor=1"
		kflags+=" -X k8s.io/component-base/version.gitMinor=$minor"
		kflags+=" -X k8s.io/component-base/version.gitTreeState=clean"
		kflags+=" -X k8s.io/client-go/pkg/version.gitVersion=$v"
		local t
		for t in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
			build_tool "$work" "$out" "k8s.io/kubernetes/cmd/$t" "$kflags"
		done
		;;
	etcd)
		v="$(module_version "$work" go.etcd.io/etcd/server/v3)"
		build_tool "$work" "$out" go.etcd.io/etcd/server/v3 "" etcd
		;;
	kwok)
		local t
		for t in kwok kwokctl; do
			build_tool "$work" "$out" "sigs.k8s.io/kwok/cmd/$t" ""
		done
		;;
	kind)
		# The kind CLI for the dev stack's default cluster (it needs Docker to run).
		build_tool "$work" "$out" sigs.k8s.io/kind ""
		;;
	actionlint)
		v="$(module_version "$work" github.com/rhysd/actionlint)"
		build_tool "$work" "$out" github.com/rhysd/actionlint/cmd/actionlint \
			"-X github.com/rhysd/actionlint.version=$v"
		;;
	helm)
		v="$(module_version "$work" helm.sh/helm/v3)"
		build_tool "$work" "$out" helm.sh/helm/v3/cmd/helm \
			"-X helm.sh/helm/v3/internal/version.version=$v"
		;;
	kustomize)
		build_tool "$work" "$out" sigs.k8s.io/kustomize/kustomize/v5 "" kustomize
		;;
	argocd) build_argocd "$work" "$out" ;;
	rollouts) build_rollouts "$work" "$out" ;;
	sealed-secrets) build_sealed_secrets "$work" "$out" ;;
	kyverno) build_kyverno "$work" "$out" ;;
	cosign)
		v="$(module_version "$work" github.com/sigstore/cosign/v2)"
		build_tool "$work" "$out" github.com/sigstore/cosign/v2/cmd/cosign \
			"-X sigs.k8s.io/release-utils/version.gitVersion=$v"
		;;
	crane)
		# crane, and `crane registry serve`: a loopback OCI registry for the signed-image tests.
		v="$(module_version "$work" github.com/google/go-containerregistry)"
		build_tool "$work" "$out" github.com/google/go-containerregistry/cmd/crane \
			"-X github.com/google/go-containerregistry/cmd/crane/cmd.Version=$v"
		;;
	redis) fetch_redis "$work" "$out" ;;
	*)
		log "unknown component $c"
		return 1
		;;
	esac
	touch "$out/.done"
	log "$c: done ($key)"
}

# Remove builds and sets of other version keys (an upgraded or edited component leaves its old
# binaries behind otherwise). Go's own caches trim themselves.
prune() {
	local c d keep current
	current="$(basename "$(dirname "$(bin_dir)")")"
	for d in "$cache"/sets/*; do
		if [[ "$(basename "$d")" != "$current" ]]; then rm -rf "$d"; fi
	done
	for c in "${components[@]}"; do
		keep="$(component_key "$c")"
		for d in "$cache/builds/$c"/*; do
			if [[ -d "$d" && "$(basename "$d")" != "$keep" ]]; then rm -rf "$d"; fi
		done
	done
	for c in "${components[@]}"; do
		[[ -f "$cache/ui/$c.current" ]] || continue
		# Keep the UI the last build of $c embedded (its key is known only while building).
		keep="$(cat "$cache/ui/$c.current")"
		for d in "$cache/ui/$c"/*; do
			if [[ -d "$d" && "$(basename "$d")" != "$keep" ]]; then rm -rf "$d"; fi
		done
	done
	rm -rf "$cache/work"
}

main() {
	case "${1:-}" in
	--bin-dir)
		bin_dir
		return 0
		;;
	--check)
		[[ -x "$(bin_dir)/pulumi" && -f "$(bin_dir)/../.done" ]]
		return $?
		;;
	"") ;;
	*)
		echo "usage: toolchain/build.sh [--bin-dir|--check]" >&2
		return 2
		;;
	esac

	command -v go >/dev/null || {
		echo "toolchain: go is not installed (Go >= 1.26 is needed)" >&2
		return 1
	}
	command -v node >/dev/null && command -v npm >/dev/null || {
		echo "toolchain: node and npm are not installed (Node >= 20 builds the web UIs)" >&2
		return 1
	}
	mkdir -p "$cache/logs" "$cache/builds" "$cache/work" "$cache/sets" "$cache/ui"
	exec 9>"$cache/.lock"
	if ! flock -n 9; then
		log "another build holds $cache/.lock; waiting for it"
		flock 9
	fi
	trap on_error ERR
	local total=$SECONDS c set
	log "cache: $cache ($(go_version))"
	for c in "${components[@]}"; do build_component "$c"; done
	trap - ERR

	set="$(dirname "$(bin_dir)")"
	if [[ ! -f "$set/.done" ]]; then
		rm -rf "$set" && mkdir -p "$set/bin"
		for c in "${components[@]}"; do
			local f
			for f in "$cache/builds/$c/$(component_key "$c")"/*; do
				[[ -f "$f" ]] || continue # a component's data folders stay in its build
				ln -sf "$f" "$set/bin/$(basename "$f")"
			done
		done
		touch "$set/.done"
	fi
	prune
	log "toolchain ready in $((SECONDS - total))s: $(bin_dir)"
}

main "$@"
