#!/usr/bin/python3
"""oci.py - writes the JSON parts of an OCI image layout for build-test-images.sh
(one process per image instead of a jq call per field: process starts are slow here).

  oci.py image LAYOUT OS ARCH VARIANT CONFIG_OBJ CREATED DESCRIPTION LAYERLINE...
      writes the image config and manifest blobs; prints "manifestDigest size configDigest".
      LAYERLINE: "mediaType digest size diffId". CONFIG_OBJ: the config's "config" member.
  oci.py index LAYOUT ENTRY...
      writes an OCI image index blob; prints "digest size".
      ENTRY: "mediaType digest size os arch [variant]"
  oci.py ref LAYOUT TAG MEDIATYPE DIGEST SIZE
      makes the layout's index.json name exactly one ref, TAG.
JSON is compact with keys in the order written, so the bytes (and digests) are reproducible.
"""
import hashlib
import json
import os
import sys

MT_INDEX = "application/vnd.oci.image.index.v1+json"
MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"


def put_json(layout, obj):
    data = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
    hexd = hashlib.sha256(data).hexdigest()
    os.makedirs(f"{layout}/blobs/sha256", exist_ok=True)
    with open(f"{layout}/blobs/sha256/{hexd}", "wb") as f:
        f.write(data)
    return f"sha256:{hexd}", len(data)


def platform(os_, arch, variant):
    p = {"architecture": arch, "os": os_}
    if variant:
        p["variant"] = variant
    return p


def cmd_image(layout, os_, arch, variant, cfg, created, desc, *lines):
    layers, diff_ids, history = [], [], []
    for n, line in enumerate(lines, 1):
        mt, digest, size, diff_id = line.split()
        layers.append({"mediaType": mt, "digest": digest, "size": int(size)})
        diff_ids.append(diff_id)
        history.append({"created": created,
                        "created_by": f"nori hack/build-test-images.sh: {desc}, layer {n}"})
    config = {"created": created, "architecture": arch}
    if variant:
        config["variant"] = variant
    config.update({"os": os_, "config": json.loads(cfg),
                   "rootfs": {"type": "layers", "diff_ids": diff_ids}, "history": history})
    cd, cs = put_json(layout, config)
    md, ms = put_json(layout, {"schemaVersion": 2, "mediaType": MT_MANIFEST,
                               "config": {"mediaType": MT_CONFIG, "digest": cd, "size": cs},
                               "layers": layers})
    print(md, ms, cd)


def cmd_index(layout, *entries):
    manifests = []
    for e in entries:
        mt, digest, size, os_, arch, *variant = e.split()
        manifests.append({"mediaType": mt, "digest": digest, "size": int(size),
                          "platform": platform(os_, arch, variant[0] if variant else "")})
    print(*put_json(layout, {"schemaVersion": 2, "mediaType": MT_INDEX, "manifests": manifests}))


def cmd_ref(layout, tag, mt, digest, size):
    index = {"schemaVersion": 2, "mediaType": MT_INDEX,
             "manifests": [{"mediaType": mt, "digest": digest, "size": int(size),
                            "annotations": {"org.opencontainers.image.ref.name": tag}}]}
    with open(f"{layout}/index.json", "w") as f:
        json.dump(index, f, separators=(",", ":"))


{"image": cmd_image, "index": cmd_index, "ref": cmd_ref}[sys.argv[1]](*sys.argv[2:])
