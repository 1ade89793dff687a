#!/usr/bin/python3
"""describe-layout.py SETDIR HOST_ARCH HOST_VARIANT < LIST > fixtures.json

LIST has one line "NAME REPOSITORY TAG TRANSPORT" per layout SETDIR/layouts/NAME, which is an
OCI image layout (TRANSPORT oci, its one ref named TAG) or a skopeo dir: copy (TRANSPORT dir:
manifest.json, blobs and list instances <hex>.manifest.json, named by hex digest).
Prints the catalog (sorted by name) with, for each layout: what the registry serves for
REPOSITORY:TAG once the layout is pushed unchanged (media type and digest of the top manifest
or index), and the image this host's platform resolves to (manifest, image id = config
digest, config, layers). For an index or manifest list, "platforms" lists every entry.
"""
import hashlib
import json
import os
import sys


class Layout:
    def __init__(self, path, transport):
        self.path = path
        self.transport = transport

    def blob(self, digest):
        hexd = digest.split(":", 1)[1]
        if self.transport == "oci":
            path = f"{self.path}/blobs/sha256/{hexd}"
        else:
            # blobs by hex, list instances as <hex>.manifest.json, the top one as manifest.json
            path = next(p for p in (f"{self.path}/{hexd}", f"{self.path}/{hexd}.manifest.json",
                                    f"{self.path}/manifest.json") if os.path.exists(p))
        with open(path, "rb") as f:
            data = f.read()
        if hashlib.sha256(data).hexdigest() != hexd:
            sys.exit(f"describe-layout.py: {self.path} has no blob {digest}")
        return json.loads(data)

    def top(self):
        """The descriptor of what the layout's ref (or dir's manifest.json) points at."""
        if self.transport == "oci":
            with open(f"{self.path}/index.json") as f:
                return json.load(f)["manifests"][0]
        with open(f"{self.path}/manifest.json", "rb") as f:
            data = f.read()
        return {"mediaType": json.loads(data)["mediaType"],
                "digest": "sha256:" + hashlib.sha256(data).hexdigest(), "size": len(data)}

    def image(self, manifest_digest):
        m = self.blob(manifest_digest)
        cfg = self.blob(m["config"]["digest"])
        layers = [{"mediaType": l["mediaType"], "digest": l["digest"], "size": l["size"], "diffId": d}
                  for l, d in zip(m["layers"], cfg["rootfs"]["diff_ids"])]
        return {
            "manifestDigest": manifest_digest,
            "manifestMediaType": m["mediaType"],
            "imageId": m["config"]["digest"],
            "configMediaType": m["config"]["mediaType"],
            "platform": {k: cfg[k] for k in ("os", "architecture", "variant") if k in cfg},
            "config": cfg.get("config", {}),
            "layers": layers,
            "layersSize": sum(l["size"] for l in layers),
        }


def is_list(media_type):
    return media_type.endswith("index.v1+json") or media_type.endswith("list.v2+json")


def describe(setdir, host_arch, host_variant, name, repo, tag, transport):
    layout = Layout(f"{setdir}/layouts/{name}", transport)
    top = layout.top()
    entry = {
        "name": name,
        "repository": repo,
        "tag": tag,
        "layout": f"layouts/{name}",
        "transport": transport,
        "mediaType": top["mediaType"],
        "digest": top["digest"],
        "size": top["size"],
    }
    if not is_list(top["mediaType"]):
        entry.update(layout.image(top["digest"]))
        return entry
    idx = layout.blob(top["digest"])
    entry["platforms"] = [dict(m["platform"], digest=m["digest"], mediaType=m["mediaType"],
                               imageId=layout.image(m["digest"])["imageId"]) for m in idx["manifests"]]
    host = [m for m in idx["manifests"]
            if m["platform"]["os"] == "linux" and m["platform"]["architecture"] == host_arch
            and m["platform"].get("variant", "") in ("", host_variant)]
    if not host:
        sys.exit(f"describe-layout.py: {name} has no linux/{host_arch} entry")
    entry.update(layout.image(host[0]["digest"]))
    return entry


def main():
    setdir, host_arch, host_variant = sys.argv[1:4]
    catalog = [describe(setdir, host_arch, host_variant, *line.split()) for line in sys.stdin if line.strip()]
    json.dump(sorted(catalog, key=lambda e: e["name"]), sys.stdout, indent=1)
    sys.stdout.write("\n")


main()
