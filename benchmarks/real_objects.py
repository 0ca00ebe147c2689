"""Rebuild the real-object benchmark set: ShapeNetCore v2 models found in public GitHub
repositories, copied from fetched snapshots into a ShapeNet-layout cache folder.

    python benchmarks/real_objects.py --mirror /work/.mirror --out ~/.cache/iebench/real-objects

ShapeNet's terms forbid redistributing the models, so they stay out of the project: this
script only records where each one is (repository, commit, path) and copies it, with its
material file and the textures that file names where the snapshot has them, into
``<out>/<synset>/<object id>/models/`` and ``<out>/<synset>/<object id>/images/``. A snapshot
is a bare git directory ``<mirror>/<owner>+<name>/repo`` (the tool library's `fetch`).
Every source file is a ShapeNetCore v2 ``model_normalized.obj`` (assimp v3.2 header); the
category was read off a render of each, or off the model's id or the ShapeNet synset
directory it sits in where an entry says so. Tests never need this set.
"""

from __future__ import annotations

import argparse
import posixpath
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from iebench.core.errors import IebenchError

DEFAULT_OUT = Path.home() / ".cache" / "iebench" / "real-objects"


@dataclass(frozen=True)
class Source:
    repo: str  # owner/name on GitHub
    commit: str
    path: str  # the model_normalized.obj inside the repository
    synset: str
    # From the model's model_normalized.json where the repository has one, else
    # ``github-`` and the first digits of the mesh's git blob.
    object_id: str


SOURCES: tuple[Source, ...] = (
    # car
    Source(
        "HyunHo99/shapenet_process",
        "e7d6476e1dcaa573dcd7f4ec0165ac0e0e6d499b",
        "data/models/model_normalized.obj",
        "02958343",
        "2cbe6850de4fa5a34a6a7ab072f22d7d",
    ),
    # car
    Source(
        "liren-jin/shapenet_simulator",
        "d98e54278cc93ab9f0e6355120e08023fa52ab4e",
        "simulator/models/car/car1/models/model_normalized.obj",
        "02958343",
        "24d7494c6b92c6e7c1bbb501b1d87871",
    ),
    # airplane
    Source(
        "kenta-tsukaue/pyopengl",
        "71a92de89c981c04a8d22f5d608dc79526416c14",
        "models/model_normalized.obj",
        "02691156",
        "a0d3a490ee1b74762a4947824596dce3",
    ),
    # airplane (biplane)
    Source(
        "LYHTHU/Python-Mesh-Graph-Operation",
        "57c47dba0cbeb6f4153195902abdae3644442286",
        "model_normalized.obj",
        "02691156",
        "1a04e3eab45ca15dd86060f189eb133",
    ),
    # motorcycle; its textures are not in the repository
    Source(
        "raahii/simple_voxel_viewer",
        "9760dfbfa704049bedb2c0c9066d639134e1f828",
        "models/model_normalized.obj",
        "03790512",
        "923ce819405ae29230c72ee872e188e1",
    ),
    # vessel (aircraft carrier), textured
    Source(
        "aschroff/pytorch3D",
        "6008b5d5fe3bf573b60da443fb7434603e077589",
        "data/models/model_normalized.obj",
        "04530566",
        "github-89dd9a7a",
    ),
    # rifle; UVs but no material file
    Source(
        "osamarais/moments_loss",
        "85da2b54c5fdd01c330cf04fec1794197aeb7f8e",
        "model_normalized.obj",
        "04090263",
        "github-144e6948",
    ),
    # pistol
    Source(
        "Ryeoryeon/NormalMap-AlbedoGenerator",
        "b30bcd1ad91421f0f4c7c2ea4fad50657b8e538e",
        "model_normalized.obj",
        "03948459",
        "github-44db3e51",
    ),
    # bowl
    Source(
        "Ryeoryeon/NormalMap-AlbedoGenerator",
        "14a7b8c77981eb025854c789690c7b8c72d85844",
        "model_normalized.obj",
        "02880940",
        "github-5382d224",
    ),
    # cabinet (box-shaped; read off a render)
    Source(
        "Ryeoryeon/NormalMap-AlbedoGenerator",
        "de7a297c2a3c8094b79b01d6c4d1c6e98aa59c7c",
        "model_normalized.obj",
        "02933112",
        "github-6290dbc6",
    ),
    # bottle
    Source(
        "Ryeoryeon/NormalMap-AlbedoGenerator",
        "08ee6413407733297ddd1565b7d6c16af24ab69f",
        "model_normalized.obj",
        "02876657",
        "github-8e1f6456",
    ),
    # mailbox; its texture is not in the repository
    Source(
        "Ryeoryeon/NormalMap-AlbedoGenerator",
        "4f81eec68257f0a65dc165d8a5e4de2894f99b9e",
        "model_normalized.obj",
        "03710193",
        "github-e1401a5f",
    ),
    # bag, textured; the id (from its model_normalized.json, whose vertex count matches the mesh)
    # is listed under 02773838 in a public ShapeNet id list, not read off a render
    Source(
        "kunalgaurav18/three_js",
        "40ec2f91074045d42c117dc268758cf7c2590c03",
        "data/model_2/models/model_normalized.obj",
        "02773838",
        "1342fc4f613687f92569b963af585e33",
    ),
    # helmet
    Source(
        "poisonwine/hw5",
        "0c54479d936683fd71a74d60a3211fd800c48f58",
        "model_normalized.obj",
        "03513137",
        "github-0f180b56",
    ),
    # birdhouse
    Source(
        "xingyu-first/go_mesh",
        "1147b30905e1730a4183d13b4d94431639597bcc",
        "model_normalized.obj",
        "02843684",
        "github-af249611",
    ),
    # The HomerW/roboverse entries: a fork of avisingh599/roboverse that once committed its
    # bullet-objects assets, ShapeNetCore.v2/<synset>/<id>/ folders included; the category is
    # the synset directory, and each model_normalized.json gives the directory's id and the
    # mesh's vertex count.
    # trash can, textured
    Source(
        "HomerW/roboverse",
        "c0c7bd87bd433d69e8d2bd71bd76e54c0fd7c7be",
        "roboverse/assets/bullet-objects/ShapeNetCore/ShapeNetCore.v2/02747177/e7682974949a6aadea9a778eef212687/models/model_normalized.obj",
        "02747177",
        "e7682974949a6aadea9a778eef212687",
    ),
    # basket, textured
    Source(
        "HomerW/roboverse",
        "c0c7bd87bd433d69e8d2bd71bd76e54c0fd7c7be",
        "roboverse/assets/bullet-objects/ShapeNetCore/ShapeNetCore.v2/02801938/d224635923b9ec4637dc91749a7c4915/models/model_normalized.obj",
        "02801938",
        "d224635923b9ec4637dc91749a7c4915",
    ),
    # bathtub, textured
    Source(
        "HomerW/roboverse",
        "c0c7bd87bd433d69e8d2bd71bd76e54c0fd7c7be",
        "roboverse/assets/bullet-objects/ShapeNetCore/ShapeNetCore.v2/02808440/cca20dbad3faf4343321831d2245cf06/models/model_normalized.obj",
        "02808440",
        "cca20dbad3faf4343321831d2245cf06",
    ),
    # bed
    Source(
        "HomerW/roboverse",
        "c0c7bd87bd433d69e8d2bd71bd76e54c0fd7c7be",
        "roboverse/assets/bullet-objects/ShapeNetCore/ShapeNetCore.v2/02818832/4954953090ca7442527e7f2c027f7469/models/model_normalized.obj",
        "02818832",
        "4954953090ca7442527e7f2c027f7469",
    ),
    # bench, textured
    Source(
        "HomerW/roboverse",
        "c0c7bd87bd433d69e8d2bd71bd76e54c0fd7c7be",
        "roboverse/assets/bullet-objects/ShapeNetCore/ShapeNetCore.v2/02828884/6f0723826537010c870f22c94729669b/models/model_normalized.obj",
        "02828884",
        "6f0723826537010c870f22c94729669b",
    ),
    # bookshelf, textured
    Source(
        "HomerW/roboverse",
        "c0c7bd87bd433d69e8d2bd71bd76e54c0fd7c7be",
        "roboverse/assets/bullet-objects/ShapeNetCore/ShapeNetCore.v2/02871439/cc38bc7db90f43d214b86d5282eb8301/models/model_normalized.obj",
        "02871439",
        "cc38bc7db90f43d214b86d5282eb8301",
    ),
    # camera, textured
    Source(
        "HomerW/roboverse",
        "c0c7bd87bd433d69e8d2bd71bd76e54c0fd7c7be",
        "roboverse/assets/bullet-objects/ShapeNetCore/ShapeNetCore.v2/02942699/235a6dd25c0a6f7b66f19f26ac490096/models/model_normalized.obj",
        "02942699",
        "235a6dd25c0a6f7b66f19f26ac490096",
    ),
    # cap, textured
    Source(
        "HomerW/roboverse",
        "c0c7bd87bd433d69e8d2bd71bd76e54c0fd7c7be",
        "roboverse/assets/bullet-objects/ShapeNetCore/ShapeNetCore.v2/02954340/e823673c1edd73fb97c426435543a860/models/model_normalized.obj",
        "02954340",
        "e823673c1edd73fb97c426435543a860",
    ),
    # chair, textured
    Source(
        "HomerW/roboverse",
        "c0c7bd87bd433d69e8d2bd71bd76e54c0fd7c7be",
        "roboverse/assets/bullet-objects/ShapeNetCore/ShapeNetCore.v2/03001627/ddfe96c6ec86b8752cbb5ed9636a4451/models/model_normalized.obj",
        "03001627",
        "ddfe96c6ec86b8752cbb5ed9636a4451",
    ),
    # earphone
    Source(
        "HomerW/roboverse",
        "c0c7bd87bd433d69e8d2bd71bd76e54c0fd7c7be",
        "roboverse/assets/bullet-objects/ShapeNetCore/ShapeNetCore.v2/03261776/51245ad5a0571188992fd3dac901d508/models/model_normalized.obj",
        "03261776",
        "51245ad5a0571188992fd3dac901d508",
    ),
    # faucet, textured
    Source(
        "HomerW/roboverse",
        "c0c7bd87bd433d69e8d2bd71bd76e54c0fd7c7be",
        "roboverse/assets/bullet-objects/ShapeNetCore/ShapeNetCore.v2/03325088/1f223cac61e3679ef235ab3c41aeb5b6/models/model_normalized.obj",
        "03325088",
        "1f223cac61e3679ef235ab3c41aeb5b6",
    ),
    # jar, textured
    Source(
        "HomerW/roboverse",
        "c0c7bd87bd433d69e8d2bd71bd76e54c0fd7c7be",
        "roboverse/assets/bullet-objects/ShapeNetCore/ShapeNetCore.v2/03593526/1ca73dffe31553efcb349a60fd15aa15/models/model_normalized.obj",
        "03593526",
        "1ca73dffe31553efcb349a60fd15aa15",
    ),
    # lamp, textured
    Source(
        "HomerW/roboverse",
        "c0c7bd87bd433d69e8d2bd71bd76e54c0fd7c7be",
        "roboverse/assets/bullet-objects/ShapeNetCore/ShapeNetCore.v2/03636649/23eaba9bdd51a5b0dfe9cab879fd37e8/models/model_normalized.obj",
        "03636649",
        "23eaba9bdd51a5b0dfe9cab879fd37e8",
    ),
    # mug, textured
    Source(
        "HomerW/roboverse",
        "c0c7bd87bd433d69e8d2bd71bd76e54c0fd7c7be",
        "roboverse/assets/bullet-objects/ShapeNetCore/ShapeNetCore.v2/03797390/c39fb75015184c2a0c7f097b1a1f7a5/models/model_normalized.obj",
        "03797390",
        "c39fb75015184c2a0c7f097b1a1f7a5",
    ),
    # pillow, textured
    Source(
        "HomerW/roboverse",
        "c0c7bd87bd433d69e8d2bd71bd76e54c0fd7c7be",
        "roboverse/assets/bullet-objects/ShapeNetCore/ShapeNetCore.v2/03938244/3b5e274f653258a737f437b479038901/models/model_normalized.obj",
        "03938244",
        "3b5e274f653258a737f437b479038901",
    ),
    # pot (flowerpot), textured
    Source(
        "HomerW/roboverse",
        "c0c7bd87bd433d69e8d2bd71bd76e54c0fd7c7be",
        "roboverse/assets/bullet-objects/ShapeNetCore/ShapeNetCore.v2/03991062/1c4257c50d27388525ebd1cd0b422e32/models/model_normalized.obj",
        "03991062",
        "1c4257c50d27388525ebd1cd0b422e32",
    ),
    # sofa, textured
    Source(
        "HomerW/roboverse",
        "c0c7bd87bd433d69e8d2bd71bd76e54c0fd7c7be",
        "roboverse/assets/bullet-objects/ShapeNetCore/ShapeNetCore.v2/04256520/c8108de19d8a3005c5beea20858a99d5/models/model_normalized.obj",
        "04256520",
        "c8108de19d8a3005c5beea20858a99d5",
    ),
    # table, textured
    Source(
        "HomerW/roboverse",
        "c0c7bd87bd433d69e8d2bd71bd76e54c0fd7c7be",
        "roboverse/assets/bullet-objects/ShapeNetCore/ShapeNetCore.v2/04379243/d6b61af7935d36a6f0aeabfdcb4e1dd9/models/model_normalized.obj",
        "04379243",
        "d6b61af7935d36a6f0aeabfdcb4e1dd9",
    ),
)


def _git_dir(mirror: Path, repo: str) -> Path:
    base = mirror / repo.replace("/", "+") / "repo"
    return base / ".git" if (base / ".git").is_dir() else base


def _show(git_dir: Path, commit: str, path: str) -> bytes | None:
    """A file's bytes at a commit, or None where the snapshot lacks it (absent or too big)."""
    result = subprocess.run(
        ["git", f"--git-dir={git_dir}", "show", f"{commit}:{path}"], capture_output=True
    )
    return result.stdout if result.returncode == 0 else None


def _texture_names(mtl: bytes) -> list[str]:
    names = re.findall(rb"^\s*map_\w+\s+(?:-\S+\s+\S+\s+)*(\S+)\s*$", mtl, flags=re.M)
    return sorted({name.decode() for name in names})


def rebuild(mirror: Path, out: Path, sources: tuple[Source, ...] = SOURCES) -> list[str]:
    """Copy every source into ``out``; return one line per model (textures copied/named)."""
    report = []
    for source in sources:
        git_dir = _git_dir(mirror, source.repo)
        if not git_dir.is_dir():
            raise IebenchError(f"{git_dir}: no snapshot of {source.repo} (fetch it first)")
        mesh = _show(git_dir, source.commit, source.path)
        if mesh is None:
            raise IebenchError(f"{source.repo}@{source.commit[:10]}: no {source.path}")
        models = out / source.synset / source.object_id / "models"
        models.mkdir(parents=True, exist_ok=True)
        (models / "model_normalized.obj").write_bytes(mesh)
        here = PurePosixPath(source.path).parent
        mtl = _show(git_dir, source.commit, str(here / "model_normalized.mtl"))
        copied = named = 0
        if mtl is not None:
            (models / "model_normalized.mtl").write_bytes(mtl)
            for name in _texture_names(mtl):
                named += 1
                # ShapeNet names textures ../images/textureN.jpg, beside models/.
                relative = PurePosixPath(name)
                data = _show(git_dir, source.commit, posixpath.normpath(here / relative))
                if data is None:
                    continue
                target = models / Path(*relative.parts)
                target.resolve().parent.mkdir(parents=True, exist_ok=True)
                target.resolve().write_bytes(data)
                copied += 1
        report.append(
            f"{source.synset}/{source.object_id}: {source.repo}@{source.commit[:10]} "
            f"{'no material' if mtl is None else f'{copied}/{named} textures'}"
        )
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror", type=Path, default=Path("/work/.mirror"))
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    try:
        lines = rebuild(args.mirror, args.out.expanduser())
    except IebenchError as error:
        raise SystemExit(f"error: {error}") from None
    print("\n".join(lines))
    synsets = {line.split("/", 1)[0] for line in lines}
    print(f"{len(lines)} models in {len(synsets)} categories under {args.out}")


if __name__ == "__main__":
    main()
