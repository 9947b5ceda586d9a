"""Give a submitted Workflow the host's paths, as the pods' volumes would.

A pod sees its volumes at their ``mountPath``; the simulated argo-server runs the steps as local
processes, so every path below a mount in a container's command, arguments, environment, working
directory and output-parameter paths is rewritten to the directory behind the volume: a
``hostPath`` volume's own path, or the directory the simulation was given for a
PersistentVolumeClaim (``--volume CLAIM=DIR``).
"""

from __future__ import annotations

import copy
import posixpath
from collections.abc import Mapping
from typing import Any


class VolumeError(ValueError):
    """A volume of the Workflow has no directory on this machine."""


def _volume_dirs(spec: Mapping[str, Any], claims: Mapping[str, str]) -> dict[str, str]:
    dirs = {}
    for volume in spec.get("volumes") or []:
        name = volume.get("name", "")
        if "hostPath" in volume:
            dirs[name] = str(volume["hostPath"].get("path", ""))
        elif "persistentVolumeClaim" in volume:
            claim = volume["persistentVolumeClaim"].get("claimName", "")
            if claim not in claims:
                raise VolumeError(
                    f"volume {name}: the simulated argo-server has no directory for "
                    f"PersistentVolumeClaim {claim!r} (start it with --volume {claim}=DIR)"
                )
            dirs[name] = claims[claim]
        else:
            kinds = sorted(set(volume) - {"name"})
            raise VolumeError(
                f"volume {name}: the simulated argo-server supports hostPath and "
                f"persistentVolumeClaim volumes, not {', '.join(kinds)}"
            )
    return dirs


def _mapper(mounts: list[tuple[str, str]]) -> Any:
    # Longest mount path first, so /work/x beats /work.
    ordered = sorted(mounts, key=lambda m: len(m[0]), reverse=True)

    def to_host(text: Any) -> Any:
        if not isinstance(text, str):
            return text
        for mount_path, host in ordered:
            if text == mount_path or text.startswith(mount_path.rstrip("/") + "/"):
                return posixpath.join(host, text[len(mount_path) :].lstrip("/")).rstrip("/")
        return text

    return to_host


def host_manifest(manifest: Mapping[str, Any], claims: Mapping[str, str]) -> dict[str, Any]:
    """A copy of ``manifest`` whose containers use host paths and mount nothing.

    Raises:
        VolumeError: a volume is neither a hostPath nor a known PersistentVolumeClaim, or a
            container mounts a volume the Workflow does not declare.
    """
    doc = copy.deepcopy(dict(manifest))
    spec = doc.get("spec") or {}
    dirs = _volume_dirs(spec, claims)
    spec.pop("volumes", None)
    for template in spec.get("templates") or []:
        container = template.get("container")
        if not isinstance(container, dict):
            continue
        mounts = []
        for mount in container.pop("volumeMounts", None) or []:
            name = mount.get("name", "")
            if name not in dirs:
                raise VolumeError(
                    f"template {template.get('name')}: volume {name!r} is mounted but not declared"
                )
            mounts.append((str(mount.get("mountPath", "")), dirs[name]))
        to_host = _mapper(mounts)
        for key in ("command", "args"):
            if key in container:
                container[key] = [to_host(part) for part in container[key]]
        for var in container.get("env") or []:
            if "value" in var:
                var["value"] = to_host(var["value"])
        if "workingDir" in container:
            container["workingDir"] = to_host(container["workingDir"])
        for output in (template.get("outputs") or {}).get("parameters") or []:
            value_from = output.get("valueFrom") or {}
            if "path" in value_from:
                value_from["path"] = to_host(value_from["path"])
    return doc
