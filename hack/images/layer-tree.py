#!/usr/bin/python3
"""layer-tree.py [--layers JSON] [--check-against ROOTFS] LAYER.tar... > expected.json

Describes a layered image for tests that check an unpacked tree byte for byte:
  layers[i].entries      the tar members of layer i, in archive order
  layers[i].overlayDiff  what layer i's overlay2 diff/ dir must hold: whiteout files become
                         {"whiteout": true} char 0/0 entries, a ".wh..wh..opq" marker becomes
                         "opaque": true on its dir (trusted.overlay.opaque=y), hard links are
                         files sharing a "hardlinkGroup"
  merged                 the tree a container sees, every layer applied in order
Entries: path (relative, no "./"), type (file|dir|symlink|hardlink|char|block|fifo), mode
(permission bits with setuid/setgid/sticky, as a number), uid, gid, mtime (seconds), and by
type: size, sha256, content (when short UTF-8 text), linkname, devmajor/devminor, xattrs,
hardlinkGroup (the first path of the group, in path order).
--layers: the manifest's layer descriptors, copied into layers[i].
--check-against: a rootfs unpacked by another tool (umoci); any difference with "merged"
is an error, so a mistake in this script cannot silently become the expectation.
"""
import argparse
import hashlib
import json
import os
import stat
import sys
import tarfile

TYPES = {
    tarfile.REGTYPE: "file", tarfile.AREGTYPE: "file", tarfile.DIRTYPE: "dir",
    tarfile.SYMTYPE: "symlink", tarfile.LNKTYPE: "hardlink", tarfile.CHRTYPE: "char",
    tarfile.BLKTYPE: "block", tarfile.FIFOTYPE: "fifo",
}
WH = ".wh."
OPQ = ".wh..wh..opq"


def describe_content(data, e):
    e["size"] = len(data)
    e["sha256"] = hashlib.sha256(data).hexdigest()
    if len(data) <= 200:
        try:
            e["content"] = data.decode("utf-8")
        except UnicodeDecodeError:
            pass


def read_layer(path):
    entries = []
    with tarfile.open(path, format=tarfile.PAX_FORMAT) as tf:
        for m in tf:
            name = m.name[2:] if m.name.startswith("./") else m.name
            name = name.rstrip("/")
            e = {"path": name, "type": TYPES[m.type], "mode": m.mode & 0o7777,
                 "uid": m.uid, "gid": m.gid, "mtime": int(m.mtime)}
            if m.isreg():
                describe_content(tf.extractfile(m).read(), e)
            elif m.issym():
                e["linkname"] = m.linkname
            elif m.islnk():
                e["linkname"] = m.linkname[2:] if m.linkname.startswith("./") else m.linkname
            elif m.ischr() or m.isblk():
                e["devmajor"], e["devminor"] = m.devmajor, m.devminor
            x = {k[len("SCHILY.xattr."):]: v for k, v in m.pax_headers.items() if k.startswith("SCHILY.xattr.")}
            if x:
                e["xattrs"] = dict(sorted(x.items()))
            entries.append(e)
    return entries


def resolve_hardlinks(entries, layer_no):
    """Hard links as files with the content of their target and a shared group key."""
    by_path = {e["path"]: e for e in entries}
    out = []
    for e in entries:
        e = dict(e)
        if e["type"] == "hardlink":
            t = by_path[e["linkname"]]
            for k in ("type", "mode", "uid", "gid", "mtime", "size", "sha256", "content", "xattrs"):
                if k in t:
                    e[k] = t[k]
            e["_group"] = (layer_no, t["path"])
            del e["linkname"]
        elif e["type"] == "file":
            e["_group"] = (layer_no, e["path"])
        out.append(e)
    return out


def finish_groups(entries):
    groups = {}
    for e in entries:
        if "_group" in e:
            groups.setdefault(e["_group"], []).append(e["path"])
    for e in entries:
        g = e.pop("_group", None)
        if g is not None and len(groups[g]) > 1:
            e["hardlinkGroup"] = min(groups[g])
    return sorted(entries, key=lambda e: e["path"].encode())


def under(path, dirpath):
    return path.startswith(dirpath + "/")


def overlay_diff(entries, layer_no):
    out, opaque = [], set()
    for e in entries:
        base = os.path.basename(e["path"])
        parent = os.path.dirname(e["path"])
        if base == OPQ:
            opaque.add(parent)
        elif base.startswith(WH):
            out.append({"path": os.path.join(parent, base[len(WH):]), "type": "char",
                        "devmajor": 0, "devminor": 0, "whiteout": True})
        else:
            out.append(e)
    out = resolve_hardlinks(out, layer_no)
    for e in out:
        if e["path"] in opaque:
            e["opaque"] = True
    return finish_groups(out)


def merge(layers):
    tree = {}
    for n, entries in enumerate(layers):
        # Whiteouts hide what lower layers hold; entries of this layer come after them.
        for e in entries:
            base = os.path.basename(e["path"])
            parent = os.path.dirname(e["path"])
            if base == OPQ:
                for p in [p for p in tree if under(p, parent)]:
                    del tree[p]
            elif base.startswith(WH):
                target = os.path.join(parent, base[len(WH):])
                for p in [p for p in tree if p == target or under(p, target)]:
                    del tree[p]
        for e in resolve_hardlinks([e for e in entries if not os.path.basename(e["path"]).startswith(WH)], n):
            old = tree.get(e["path"])
            if old is not None and old["type"] == "dir" and e["type"] != "dir":
                for p in [p for p in tree if under(p, e["path"])]:
                    del tree[p]
            tree[e["path"]] = e
    return finish_groups(list(tree.values()))


def scan_rootfs(root):
    """The same description, read from an unpacked tree."""
    out, inodes = [], {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root)
            st = os.lstat(full)
            e = {"path": rel, "mode": stat.S_IMODE(st.st_mode), "uid": st.st_uid, "gid": st.st_gid,
                 "mtime": int(st.st_mtime)}
            if stat.S_ISREG(st.st_mode):
                e["type"] = "file"
                with open(full, "rb") as f:
                    describe_content(f.read(), e)
                inodes.setdefault(st.st_ino, []).append(rel)
                e["_ino"] = st.st_ino
            elif stat.S_ISDIR(st.st_mode):
                e["type"] = "dir"
            elif stat.S_ISLNK(st.st_mode):
                e["type"] = "symlink"
                e["linkname"] = os.readlink(full)
            elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                e["type"] = "char" if stat.S_ISCHR(st.st_mode) else "block"
                e["devmajor"], e["devminor"] = os.major(st.st_rdev), os.minor(st.st_rdev)
            elif stat.S_ISFIFO(st.st_mode):
                e["type"] = "fifo"
            if not stat.S_ISLNK(st.st_mode):
                x = {k: os.getxattr(full, k, follow_symlinks=False).decode()
                     for k in os.listxattr(full, follow_symlinks=False) if k.startswith("user.")}
                if x:
                    e["xattrs"] = dict(sorted(x.items()))
            out.append(e)
    for e in out:
        ino = e.pop("_ino", None)
        if ino is not None and len(inodes[ino]) > 1:
            e["hardlinkGroup"] = min(inodes[ino], key=lambda p: p.encode())
    return sorted(out, key=lambda e: e["path"].encode())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--layers", default="[]")
    ap.add_argument("--check-against")
    ap.add_argument("tars", nargs="+")
    a = ap.parse_args()
    descs = json.loads(a.layers)
    raw = [read_layer(t) for t in a.tars]
    layers = []
    for n, (t, entries) in enumerate(zip(a.tars, raw)):
        with open(t, "rb") as f:
            diff_id = "sha256:" + hashlib.sha256(f.read()).hexdigest()
        layer = dict(descs[n]) if n < len(descs) else {}
        layer.update({"diffId": diff_id, "entries": entries, "overlayDiff": overlay_diff(entries, n)})
        layers.append(layer)
    merged = merge(raw)
    if a.check_against:
        ref = {e["path"]: e for e in scan_rootfs(a.check_against)}
        mine = {e["path"]: e for e in merged}
        bad = []
        for p in sorted(set(ref) | set(mine)):
            if ref.get(p) != mine.get(p):
                bad.append(f"  {p}:\n    expected {mine.get(p)}\n    unpacked {ref.get(p)}")
        if bad:
            sys.exit("layer-tree.py: merged tree differs from " + a.check_against + ":\n" + "\n".join(bad))
    json.dump({"layers": layers, "merged": merged}, sys.stdout, indent=1, ensure_ascii=False)
    sys.stdout.write("\n")


main()
