#!/bin/bash
# layers-stage.sh DIR - stages the three layer trees of the "layers" fixture as DIR/l1, DIR/l2,
# DIR/l3 (run as root: owners, device nodes). build-test-images.sh tars each with --xattrs.
# Layer 2 and 3 hold the OCI whiteout files (.wh.NAME, .wh..wh..opq) as the empty regular
# files that go into the tar. What each case checks:
#   a/file1            modified in l2 (content and mtime come from l2)
#   a/keep             removed by a file whiteout in l3 inside a dir that l2 also touched
#   del-file           removed by a file whiteout in l2
#   del-dir/           removed with its subtree by a dir whiteout in l2, re-created in l3 with
#                      other content (only del-dir/reborn survives)
#   opq/               made opaque in l2 (old1, oldsub/ hidden; mode 0750 -> 0755), l2 adds
#                      opq/new, l3 whites out opq/new and adds opq/newer
#   hard/              orig, link1, link2 one inode in l1; link2 whited out in l3
#   l2hard/            a second hard-link pair, in l2
#   sym/               relative, absolute, dangling and directory symlinks; sym/rel retargeted
#                      in l2
#   perm/              setuid file, setgid dir, sticky dir, read-only file
#   fifo, dev/         a fifo; a char device (1,3) and a block device (7,200) in l3
#   owned, owned-dir/  uid 1234, gid 5678
#   xattr, xattr2      user.nori=hello; user.a / user.b (l3)
#   dir-to-file        a dir in l1, a regular file in l2
#   file-to-dir        a file in l1, a dir with a child in l2
#   names/             a non-ASCII name, a name with spaces, a 150-byte name (pax path)
#   mtime/             explicit mtimes: 1 s after the epoch and 2038-01-19T03:14:08Z (> 2^31 - 1)
set -euo pipefail
umask 022
D=$1
rm -rf "$D"
mkdir -p "$D"/{l1,l2,l3}
T1=1000000000 T2=1100000000 T3=1200000000

xattr() { "${PY:-python3}" -c 'import os,sys; os.setxattr(sys.argv[1], sys.argv[2], sys.argv[3].encode())' "$@"; }

# --- layer 1 -------------------------------------------------------------------------------
cd "$D/l1"
mkdir -p etc a del-dir/sub opq/oldsub hard sym perm/setgid-dir perm/sticky owned-dir dir-to-file mtime
echo layers-l1 >etc/hostname
echo 'a1 from layer 1' >a/file1
echo 'a2 from layer 1' >a/file2
echo 'kept until layer 3' >a/keep
echo 'deleted by a file whiteout in layer 2' >del-file
echo x >del-dir/x
echo y >del-dir/sub/y
echo 'hidden by the opaque marker in layer 2' >opq/old1
echo 'hidden too' >opq/oldsub/old2
chmod 0750 opq
echo 'hard-linked content' >hard/orig
ln hard/orig hard/link1
ln hard/orig hard/link2
ln -s ../a/file1 sym/rel
ln -s /a/file2 sym/abs
ln -s /does/not/exist sym/dangling
ln -s ../a sym/dir
printf '#!/bin/sh\necho setuid\n' >perm/setuid
chmod 4755 perm/setuid
chmod 2775 perm/setgid-dir
chmod 1777 perm/sticky
echo 'read only' >perm/ro
chmod 0400 perm/ro
mkfifo -m 0640 fifo
echo 'owned by 1234:5678' >owned
chmod 0640 owned
chown 1234:5678 owned owned-dir
chmod 0750 owned-dir
echo 'has user.nori' >xattr
xattr xattr user.nori hello
echo 'a dir in layer 1' >dir-to-file/c
echo 'a file in layer 1' >file-to-dir
: >empty
echo 'old' >mtime/old
echo 'far future' >mtime/y2038
find . -mindepth 1 -exec touch -h -d "@$T1" {} +
touch -h -d @1 mtime/old
touch -h -d @2147483648 mtime/y2038

# --- layer 2 -------------------------------------------------------------------------------
cd "$D/l2"
mkdir -p a opq file-to-dir l2hard sym names
echo 'a1 from layer 2' >a/file1
: >.wh.del-file
: >.wh.del-dir
: >opq/.wh..wh..opq
echo 'new in the opaque dir (layer 2)' >opq/new
echo 'a file in layer 2, a dir in layer 1' >dir-to-file
echo 'child of a dir that was a file' >file-to-dir/child
echo 'layer 2 hard link' >l2hard/one
ln l2hard/one l2hard/two
ln -s ../a/file2 sym/rel
echo 'non-ascii name' >names/ünïcödé
echo 'spaces in the name' >'names/with space'
echo 'a long name' >"names/$(printf 'n%.0s' $(seq 1 150))"
find . -mindepth 1 -exec touch -h -d "@$T2" {} +

# --- layer 3 -------------------------------------------------------------------------------
cd "$D/l3"
mkdir -p del-dir hard opq a dev
echo 're-created in layer 3' >del-dir/reborn
: >hard/.wh.link2
: >opq/.wh.new
echo 'newer, layer 3' >opq/newer
: >a/.wh.keep
mknod -m 0666 dev/char c 1 3
mknod -m 0660 dev/block b 7 200
echo 'two xattrs' >xattr2
xattr xattr2 user.a 1
xattr xattr2 user.b 'value with spaces'
find . -mindepth 1 -exec touch -h -d "@$T3" {} +
