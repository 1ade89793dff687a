#!/bin/bash
# build-test-images.sh - builds nori's test images as OCI image layouts, reproducibly.
#
# Usage: hack/build-test-images.sh [--big] [--force] [OUTDIR]
#   OUTDIR   default $NORI_TEST_IMAGES, else /var/cache/nori-test-images
#   --big    also build the ~200 MB benchmark image (slow, so only on request)
#   --force  rebuild even when the stamp says the output is current
#
# Output (test/helpers/registry.ts reads it; nothing is pushed here, because the test
# registry's port is only known at test time):
#   OUTDIR/small/layouts/<name>/     one OCI image layout per fixture (oci-layout, index.json,
#                                    blobs/sha256/...), its one ref named by the fixture's tag
#   OUTDIR/small/fixtures.json       catalog: repository, tag, media type and digest that the
#                                    registry will serve, image id and layers for this host's
#                                    platform, and for indexes every platform's manifest
#   OUTDIR/small/layers-expected.json  the "layers" fixture layer by layer and merged
#                                    (see hack/images/layer-tree.py)
#   OUTDIR/big/...                   the same for the benchmark image (--big)
#   OUTDIR/debs/                     the busybox .deb, fetched once
# Each of small/ and big/ carries a .stamp with the hash of this script and hack/images/*;
# a run whose stamp matches does nothing, so test setup may call this every time.
#
# Reproducible: sorted tar members, fixed mtimes and numeric owners, pax headers without
# atime/ctime or pids, `gzip -n`, single-threaded zstd, JSON written by hack/images/oci.py.
# The digests still depend on the busybox .deb and this host's libc, so tests read them from
# fixtures.json.
set -Eeuo pipefail
umask 022
export LC_ALL=C TZ=UTC

HERE=$(cd "$(dirname "$0")" && pwd)
IMAGES_DIR=$HERE/images
BIG=0 FORCE=0 OUTDIR=
for a in "$@"; do
	case "$a" in
	--big) BIG=1 ;;
	--force) FORCE=1 ;;
	-h | --help) sed -n '2,26p' "$0"; exit 0 ;;
	-*) echo "unknown option $a" >&2; exit 2 ;;
	*) OUTDIR=$a ;;
	esac
done
OUTDIR=${OUTDIR:-${NORI_TEST_IMAGES:-/var/cache/nori-test-images}}

log() { echo "[build-test-images] $*" >&2; }
trap 'echo "[build-test-images] ERROR: failed at line $LINENO: $BASH_COMMAND" >&2' ERR
die() { echo "[build-test-images] ERROR: $*" >&2; exit 1; }

# Debian's python3 first: a pyenv shim in PATH costs a second per start
PY=$(command -v /usr/bin/python3 || command -v python3 || true)
export PY
for t in tar gzip zstd jq skopeo umoci openssl "$PY" sha256sum ldd dpkg-deb apt-get; do
	command -v "$t" >/dev/null || die "$t is needed (apt-get install it)"
done

MT_INDEX=application/vnd.oci.image.index.v1+json
MT_MANIFEST=application/vnd.oci.image.manifest.v1+json
MT_CONFIG=application/vnd.oci.image.config.v1+json
MT_LAYER_TAR=application/vnd.oci.image.layer.v1.tar
MT_LAYER_GZIP=application/vnd.oci.image.layer.v1.tar+gzip
MT_LAYER_ZSTD=application/vnd.oci.image.layer.v1.tar+zstd
MT_DOCKER_MANIFEST=application/vnd.docker.distribution.manifest.v2+json
MT_DOCKER_LIST=application/vnd.docker.distribution.manifest.list.v2+json

# Every tar member and every "created" field gets this time.
EPOCH=0
CREATED=1970-01-01T00:00:00Z
REPO_PREFIX=nori-test
PATH_ENV=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# This machine's platform in OCI terms; the multi-arch fixture must resolve to it.
host_platform() {
	case "$(dpkg --print-architecture)" in
	amd64) echo "amd64 " ;;
	arm64) echo "arm64 v8" ;;
	armhf) echo "arm v7" ;;
	armel) echo "arm v6" ;;
	i386) echo "386 " ;;
	ppc64el) echo "ppc64le " ;;
	*) echo "$(dpkg --print-architecture) " ;;
	esac
}
read -r HOST_ARCH HOST_VARIANT <<<"$(host_platform) "

STAMP=$(cd "$HERE" && find build-test-images.sh images -type f ! -name '*.pyc' -print0 | sort -z |
	xargs -0 cat | sha256sum | cut -d' ' -f1)

# ---------------------------------------------------------------------------------------------
# blobs, layers, manifests
# ---------------------------------------------------------------------------------------------

# put_blob LAYOUT FILE -> moves FILE into the layout's blob store; prints "sha256:<hex> <size>"
put_blob() {
	local layout=$1 f=$2 hex size
	hex=$(sha256sum "$f" | cut -d' ' -f1)
	size=$(stat -c %s "$f")
	mv -f "$f" "$layout/blobs/sha256/$hex"
	echo "sha256:$hex $size"
}

# blob_path LAYOUT DIGEST
blob_path() { echo "$1/blobs/sha256/${2#sha256:}"; }

# tar_dir DIR OUT [TAR_OPTS...] -> a reproducible tar of DIR's contents (members without "./",
# sorted so parents come first). Ownership and mtimes come from TAR_OPTS or from the files.
tar_dir() {
	local dir=$1 out=$2 list
	shift 2
	list=$(mktemp "$WORK/list.XXXXXX")
	(cd "$dir" && find . -mindepth 1 -printf '%P\n' | sort) >"$list"
	tar --create --file "$out" --directory "$dir" --no-recursion --verbatim-files-from \
		--files-from "$list" --format=posix \
		--pax-option='exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime' \
		--numeric-owner "$@"
	rm -f "$list"
}

# tar_rootfs DIR OUT -> tar_dir with every member owned by 0:0 and dated $EPOCH
tar_rootfs() { tar_dir "$1" "$2" --owner=0 --group=0 --mtime="@$EPOCH"; }

# add_layer LAYOUT TAR COMPRESSION(gzip|zstd|none) -> stores the layer blob (TAR is consumed);
# prints one line "mediaType digest size diffId". Compressed blobs are cached per run, since
# most fixtures share the busybox layer.
add_layer() {
	local layout=$1 tar=$2 comp=$3 diffid mt out cached
	diffid=sha256:$(sha256sum "$tar" | cut -d' ' -f1)
	cached=$WORK/zcache/${diffid#sha256:}.$comp
	mkdir -p "$WORK/zcache"
	if [ ! -f "$cached" ]; then
		case "$comp" in
		gzip) gzip -n -6 -c "$tar" >"$cached.tmp" ;;
		zstd) zstd -q -T1 -10 -c "$tar" >"$cached.tmp" ;;
		none) cp "$tar" "$cached.tmp" ;;
		*) die "add_layer: compression $comp" ;;
		esac
		mv "$cached.tmp" "$cached"
	fi
	case "$comp" in gzip) mt=$MT_LAYER_GZIP ;; zstd) mt=$MT_LAYER_ZSTD ;; none) mt=$MT_LAYER_TAR ;; esac
	rm -f "$tar"
	cp "$cached" "$tar.c"
	out=$(put_blob "$layout" "$tar.c")
	echo "$mt $out $diffid"
}

# new_layout DIR -> an empty OCI image layout
new_layout() {
	rm -rf "$1"
	mkdir -p "$1/blobs/sha256"
	printf '%s' '{"imageLayoutVersion":"1.0.0"}' >"$1/oci-layout"
}

# add_image LAYOUT OS ARCH VARIANT CONFIG_OBJ DESCRIPTION LAYERLINE... -> writes the image
# config and manifest blobs; prints "manifestDigest manifestSize configDigest".
# LAYERLINE is add_layer's output. CONFIG_OBJ is the config's "config" member.
add_image() {
	local layout=$1 os=$2 arch=$3 variant=$4 cfg=$5 desc=$6
	shift 6
	"$PY" "$IMAGES_DIR/oci.py" image "$layout" "$os" "$arch" "$variant" "$cfg" "$CREATED" "$desc" "$@"
}

# set_ref LAYOUT TAG MEDIATYPE DIGEST SIZE -> the layout's index.json names one ref, TAG
set_ref() { "$PY" "$IMAGES_DIR/oci.py" ref "$@"; }

# image_config NAME [EXTRA_JSON] -> the "config" object of a busybox-based image
image_config() {
	jq -nc --arg env "$PATH_ENV" --arg name "$1" --argjson extra "${2:-{\}}" \
		'{Env:[$env], Cmd:["sh"], Labels:{"org.nori.test.image":$name}} + $extra'
}

# single_image NAME CONFIG_OBJ COMPRESSION LAYER_TAR... -> layout NAME with ref "1" pointing at
# one linux/HOST_ARCH image manifest. The layer tars are copied, not consumed.
single_image() {
	local name=$1 cfg=$2 comp=$3 layout=$LAYOUTS/$1 t lines=() md ms cd
	shift 3
	new_layout "$layout"
	for t in "$@"; do
		cp "$t" "$WORK/layer.tar"
		lines+=("$(add_layer "$layout" "$WORK/layer.tar" "$comp")")
	done
	read -r md ms cd <<<"$(add_image "$layout" linux "$HOST_ARCH" "$HOST_VARIANT" "$cfg" "$name" "${lines[@]}")"
	set_ref "$layout" 1 "$MT_MANIFEST" "$md" "$ms"
	log "built $name: manifest $md, image id $cd"
}

# ---------------------------------------------------------------------------------------------
# the busybox root filesystem
# ---------------------------------------------------------------------------------------------

# fetch_busybox -> sets BUSYBOX to the dynamic busybox from Debian's .deb (never installed: the
# busybox and busybox-static packages conflict)
fetch_busybox() {
	local debs=$OUTDIR/debs deb
	mkdir -p "$debs"
	deb=$(ls "$debs"/busybox_*.deb 2>/dev/null | head -1 || true)
	if [ -z "$deb" ]; then
		log "apt-get download busybox"
		# -o APT::Sandbox::User=root: _apt cannot write into an arbitrary OUTDIR
		if ! (cd "$debs" && apt-get -q -o APT::Sandbox::User=root download busybox >&2); then
			log "download failed; fetching package lists (apt-get update) and retrying"
			apt-get -q update >&2
			(cd "$debs" && apt-get -q -o APT::Sandbox::User=root download busybox >&2) ||
				die "apt-get download busybox failed"
		fi
		deb=$(ls "$debs"/busybox_*.deb | head -1)
	fi
	rm -rf "$WORK/busybox-deb"
	dpkg-deb -x "$deb" "$WORK/busybox-deb"
	BUSYBOX=$WORK/busybox-deb/bin/busybox
	BUSYBOX_VERSION=$(dpkg-deb -f "$deb" Version)
	"$BUSYBOX" true || die "$BUSYBOX does not run on this machine"
}

# copy_libs BINARY ROOT -> the shared libraries and loader BINARY needs (per ldd), at the same
# paths, as regular files
copy_libs() {
	local lib
	for lib in $(ldd "$1" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'); do
		mkdir -p "$2$(dirname "$lib")"
		cp -L "$lib" "$2$lib"
		chmod 0755 "$2$lib"
	done
}

# stage_busybox DIR -> busybox rootfs: applets hard-linked in /bin (so masking /bin/ls does not
# mask busybox itself), libc + loader, /etc/passwd and /etc/group
stage_busybox() {
	local r=$1 applet
	mkdir -p "$r"/{bin,etc,dev,proc,sys,root,home,tmp,var/tmp,var/www,usr/bin,usr/sbin}
	chmod 0700 "$r/root"
	chmod 1777 "$r/tmp" "$r/var/tmp"
	install -m 0755 "$BUSYBOX" "$r/bin/busybox"
	copy_libs "$BUSYBOX" "$r"
	"$BUSYBOX" --list | "$PY" -c '
import os, sys
for a in sorted(sys.stdin.read().split()):
    if a != "busybox" and not os.path.lexists(sys.argv[1] + a):
        os.link(sys.argv[1] + "busybox", sys.argv[1] + a)' "$r/bin/"
	install -m 0644 "$IMAGES_DIR/passwd" "$r/etc/passwd"
	install -m 0644 "$IMAGES_DIR/group" "$r/etc/group"
	printf 'nori test image, Debian busybox %s\n' "$BUSYBOX_VERSION" >"$r/etc/nori-release"
}

# ---------------------------------------------------------------------------------------------
# the fixtures
# ---------------------------------------------------------------------------------------------

build_busybox_family() {
	local base=$WORK/busybox.tar
	stage_busybox "$WORK/stage/busybox"
	tar_rootfs "$WORK/stage/busybox" "$base"

	single_image busybox "$(image_config busybox)" gzip "$base"
	meta busybox busybox 1 oci

	# The web server: busybox + one layer with the page
	mkdir -p "$WORK/stage/web/www"
	install -m 0644 "$IMAGES_DIR/index.html" "$WORK/stage/web/www/index.html"
	tar_rootfs "$WORK/stage/web" "$WORK/web.tar"
	single_image web "$(image_config web '{"Cmd":["httpd","-f","-p","80","-h","/www"],"ExposedPorts":{"80/tcp":{}}}')" \
		gzip "$base" "$WORK/web.tar"
	meta web web 1 oci

	# Config-only variants: same busybox layer, different User
	local n u
	for n in "user-uid 1002" "user-name www-data" "user-uid-gid 1003:1004" "user-name-gid www-data:1004"; do
		read -r n u <<<"$n"
		single_image "$n" "$(image_config "$n" "$(jq -nc --arg u "$u" '{User:$u}')")" gzip "$base"
		meta "$n" "$n" 1 oci
	done

	single_image zstd "$(image_config zstd)" zstd "$base"
	meta zstd zstd 1 oci

	single_image uncompressed "$(image_config uncompressed)" none "$base"
	meta uncompressed uncompressed 1 oci

	multiarch_layout "$base" multiarch
	meta multiarch multiarch 1 oci

	# Docker schema 2 forms, converted by skopeo from OCI sources with their own labels (so
	# their image ids differ from busybox's and multiarch's)
	LAYOUTS=$WORK/src single_image docker-v2s2 "$(image_config docker-v2s2)" gzip "$base"
	docker_layout docker-v2s2 "$MT_DOCKER_MANIFEST"
	meta docker-v2s2 docker-v2s2 1 dir
	LAYOUTS=$WORK/src multiarch_layout "$base" docker-list
	docker_layout docker-list "$MT_DOCKER_LIST"
	meta docker-list docker-list 1 dir
}

# multiarch_layout BASE_TAR NAME -> layout NAME: an OCI index of linux/amd64, linux/arm64/v8
# (and this host's platform if neither), plus a windows/amd64 entry listed first as a trap for
# platform matching. Each platform's image is busybox + a layer with /etc/nori-platform naming
# its platform, so a test can see which one was unpacked. Only this host's entry can run.
multiarch_layout() {
	local base=$1 name=$2 layout=$LAYOUTS/$2 entries=() p os arch variant md ms cd
	new_layout "$layout"
	local platforms=("windows amd64 " "linux amd64 " "linux arm64 v8")
	case "$HOST_ARCH" in amd64 | arm64) ;; *) platforms+=("linux $HOST_ARCH $HOST_VARIANT") ;; esac
	for p in "${platforms[@]}"; do
		read -r os arch variant <<<"$p "
		local plat=$os/$arch${variant:+/$variant} stage
		stage=$WORK/stage/plat-${plat//\//-}
		mkdir -p "$stage/etc"
		echo "$plat" >"$stage/etc/nori-platform"
		tar_rootfs "$stage" "$WORK/plat.tar"
		cp "$base" "$WORK/base.tar"
		local l1 l2
		l1=$(add_layer "$layout" "$WORK/base.tar" gzip)
		l2=$(add_layer "$layout" "$WORK/plat.tar" gzip)
		read -r md ms cd <<<"$(add_image "$layout" "$os" "$arch" "$variant" \
			"$(image_config "$name $plat")" "$name $plat" "$l1" "$l2")"
		entries+=("$MT_MANIFEST $md $ms $os $arch $variant")
	done
	read -r md ms <<<"$("$PY" "$IMAGES_DIR/oci.py" index "$layout" "${entries[@]}")"
	set_ref "$layout" 1 "$MT_INDEX" "$md" "$ms"
	log "built $name: index $md"
}

# docker_layout NAME MEDIATYPE -> converts $WORK/src/NAME (an OCI layout) with
# `skopeo copy --all --format v2s2` (config application/vnd.docker.container.image.v1+json,
# layers application/vnd.docker.image.rootfs.diff.tar.gzip; an index becomes a manifest list)
# into the skopeo dir: layout $LAYOUTS/NAME (manifest.json, <hex>.manifest.json per list
# instance, blobs by hex). skopeo's oci: transport only reads OCI manifests, so the Docker
# fixtures stay in dir: form and are pushed from there unchanged.
docker_layout() {
	local name=$1 want=$2 layout=$LAYOUTS/$1
	rm -rf "$layout"
	skopeo copy --quiet --all --format v2s2 "oci:$WORK/src/$name:1" "dir:$layout"
	[ "$(jq -r .mediaType "$layout/manifest.json")" = "$want" ] || die "skopeo did not convert $name to $want"
	log "built $name: $want sha256:$(sha256sum "$layout/manifest.json" | cut -d' ' -f1)"
}

# layers: three layers with file and directory whiteouts, an opaque directory, hard links,
# symlinks, device nodes, a fifo, setuid/setgid/sticky modes, numeric owners, xattrs, fixed
# mtimes, non-ASCII and long names (hack/images/layers-stage.sh makes the trees). Its expected
# per-layer content and merged tree go to layers-expected.json, computed from the tars and
# checked against an independent unpack by umoci.
build_layers() {
	local layout=$LAYOUTS/layers i lines=() md ms cd
	new_layout "$layout"
	bash "$IMAGES_DIR/layers-stage.sh" "$WORK/stage/layers"
	for i in 1 2 3; do
		tar_dir "$WORK/stage/layers/l$i" "$WORK/layers-l$i.tar" --xattrs --xattrs-include='user.*'
		cp "$WORK/layers-l$i.tar" "$WORK/layers-keep-l$i.tar"
		lines+=("$(add_layer "$layout" "$WORK/layers-l$i.tar" gzip)")
	done
	read -r md ms cd <<<"$(add_image "$layout" linux "$HOST_ARCH" "$HOST_VARIANT" "$(image_config layers)" layers "${lines[@]}")"
	set_ref "$layout" 1 "$MT_MANIFEST" "$md" "$ms"
	log "built layers: manifest $md, image id $cd"
	meta layers layers 1 oci
	# umoci unpacks as an independent reference for the merged tree
	rm -rf "$WORK/umoci"
	umoci raw unpack --image "$layout:1" "$WORK/umoci" >/dev/null 2>&1 || die "umoci could not unpack the layers image"
	"$PY" "$IMAGES_DIR/layer-tree.py" --check-against "$WORK/umoci" \
		--layers "$(jq -c '[.layers[] | {mediaType, digest, size}]' "$(blob_path "$layout" "$md")")" \
		"$WORK"/layers-keep-l{1,2,3}.tar >"$OUT/layers-expected.json"
	rm -f "$WORK"/layers-keep-l*.tar
}

# keystream SEED BYTES -> BYTES of the AES-256-CTR keystream for key SEED (deterministic)
keystream() {
	# process substitution: openssl dies of SIGPIPE when head has enough, which pipefail
	# would count as a failure
	head -c "$2" < <(openssl enc -aes-256-ctr -nosalt -K "$(printf '%064x' "$1")" \
		-iv "$(printf '%032x' 0)" -in /dev/zero 2>/dev/null)
}

# big: ~200 MB in 5 layers of deterministic, mostly incompressible data (AES-CTR keystream of
# a fixed key), each layer one 16 MiB file, an 8 MiB base64 text file (gzip saves ~25 % of it)
# and 1024 files of 16 KiB, for pull benchmarks.
build_big() {
	local layout=$LAYOUTS/big i lines=() md ms cd
	new_layout "$layout"
	for i in 1 2 3 4 5; do
		local d=$WORK/stage/big/l$i/big/layer$i
		mkdir -p "$d/small"
		keystream "$i" $((16 << 20)) >"$d/blob.bin"
		keystream $((i + 100)) $((6 << 20)) | base64 -w 76 >"$d/text.b64"
		keystream $((i + 200)) $((16 << 20)) | (cd "$d/small" && split -b 16384 -a 4 -d - f)
		tar_rootfs "$WORK/stage/big/l$i" "$WORK/big.tar"
		rm -rf "$WORK/stage/big/l$i"
		lines+=("$(add_layer "$layout" "$WORK/big.tar" gzip)")
	done
	read -r md ms cd <<<"$(add_image "$layout" linux "$HOST_ARCH" "$HOST_VARIANT" "$(image_config big)" big "${lines[@]}")"
	set_ref "$layout" 1 "$MT_MANIFEST" "$md" "$ms"
	log "built big: manifest $md, image id $cd"
	meta big big 1 oci
}

# meta NAME REPO_NAME TAG TRANSPORT(oci|dir) -> a fixtures.json entry for layout NAME,
# pushed as $REPO_PREFIX/REPO_NAME:TAG (described at the end, in one go)
meta() { echo "$1 $REPO_PREFIX/$2 $3 $4" >>"$OUT/meta.list"; }

# ---------------------------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------------------------

# build_set SET BUILDER -> builds OUTDIR/SET (small|big) unless its stamp is current
build_set() {
	local set=$1 builder=$2 dest=$OUTDIR/$1
	if [ $FORCE = 0 ] && [ -f "$dest/.stamp" ] && [ "$(cat "$dest/.stamp")" = "$STAMP" ] &&
		[ -f "$dest/fixtures.json" ]; then
		log "$dest is up to date"
		return 0
	fi
	local t0=$SECONDS
	OUT=$OUTDIR/.$set.tmp.$$ WORK=$OUTDIR/.work.$$
	rm -rf "$OUT" "$WORK"
	mkdir -p "$OUT" "$WORK"
	# a setgid OUTDIR would hand its bit to every staged dir and change the layer bytes
	chmod g-s "$OUT" "$WORK"
	LAYOUTS=$OUT/layouts
	mkdir -p "$LAYOUTS"
	"$builder"
	"$PY" "$IMAGES_DIR/describe-layout.py" "$OUT" "$HOST_ARCH" "$HOST_VARIANT" <"$OUT/meta.list" >"$OUT/fixtures.json"
	rm -f "$OUT/meta.list"
	echo "$STAMP" >"$OUT/.stamp"
	rm -rf "$dest" "$WORK"
	mv "$OUT" "$dest"
	log "built $dest in $((SECONDS - t0)) s"
}

build_small() {
	fetch_busybox
	build_busybox_family
	build_layers
}

mkdir -p "$OUTDIR"
# One build at a time per OUTDIR (parallel test runs may all call this)
exec 9>"$OUTDIR/.lock"
flock 9
trap 'rm -rf "${WORK:-}" "${OUT:-}"' EXIT
build_set small build_small
[ $BIG = 0 ] || build_set big build_big
