"""The 3DIEBench scene in Blender: built once per worker, then only the model and the
per-view factors change (docs/protocol.md section 2, with its Blender 5.0 pitfalls)."""

from __future__ import annotations

import os
from pathlib import Path

import bpy
import numpy as np
from mathutils import Matrix

from iebench.scene.description import SceneDescription, Stage
from iebench.scene.presets import RenderSettings

GPU_BACKENDS = ("OPTIX", "CUDA", "HIP", "ONEAPI", "METAL")


class ModelError(Exception):
    """The model could not be turned into something renderable."""


def _enable_gpu() -> str:
    """Enable every device of the first GPU backend that has one; return its name."""
    preferences = bpy.context.preferences.addons["cycles"].preferences
    for backend in GPU_BACKENDS:
        try:
            preferences.compute_device_type = backend
        except TypeError:  # backend not compiled into this build
            continue
        preferences.refresh_devices()
        devices = [d for d in preferences.devices if d.type == backend]
        if devices:
            for device in preferences.devices:
                device.use = device.type == backend
            return backend
    raise RuntimeError(f"--device gpu: Cycles found no GPU (tried {', '.join(GPU_BACKENDS)})")


class BlenderScene:
    """One scene per worker process; `render_view` sets a view's factors and renders it."""

    def __init__(
        self, settings: RenderSettings, stage: Stage, device: str = "cpu", threads: int = 0
    ) -> None:
        bpy.ops.wm.read_factory_settings(use_empty=True)
        self.scene = bpy.context.scene
        self.stage = stage
        self.device = _enable_gpu() if device == "gpu" else "CPU"
        self.configure(settings, device, threads)
        self._build_world(stage)
        self._build_camera(stage)
        self.floor_colour = self._build_floor(stage)
        self.spot = self._build_lights(stage)
        self.model: bpy.types.Object | None = None

    def configure(self, settings: RenderSettings, device: str = "cpu", threads: int = 0) -> None:
        """Apply render settings (also between views, e.g. to compare presets)."""
        scene, render = self.scene, self.scene.render
        render.engine = "CYCLES"
        cycles = scene.cycles
        cycles.device = "GPU" if device == "gpu" else "CPU"
        cycles.samples = settings.samples
        cycles.use_adaptive_sampling = settings.adaptive_threshold is not None
        if settings.adaptive_threshold is not None:
            cycles.adaptive_threshold = settings.adaptive_threshold
            cycles.adaptive_min_samples = settings.adaptive_min_samples
        cycles.use_denoising = settings.denoise
        cycles.denoiser = "OPENIMAGEDENOISE"
        cycles.denoising_input_passes = settings.denoiser_passes
        cycles.denoising_prefilter = settings.denoiser_prefilter
        cycles.denoising_quality = settings.denoiser_quality
        cycles.denoising_use_gpu = device == "gpu"
        cycles.sampling_pattern = settings.sampling_pattern
        cycles.use_light_tree = settings.light_tree
        cycles.use_guiding = settings.path_guiding  # CPU only; Cycles ignores it on GPUs
        cycles.sample_clamp_direct = settings.clamp_direct
        cycles.sample_clamp_indirect = settings.clamp_indirect
        cycles.texture_limit_render = settings.texture_limit
        cycles.diffuse_bounces = settings.diffuse_bounces
        cycles.glossy_bounces = settings.glossy_bounces
        cycles.transmission_bounces = settings.transmission_bounces
        cycles.transparent_max_bounces = settings.transparent_bounces
        cycles.volume_bounces = settings.volume_bounces
        cycles.max_bounces = settings.max_bounces
        render.resolution_x = render.resolution_y = settings.resolution
        render.resolution_percentage = 100
        render.film_transparent = False
        if threads > 0:
            render.threads_mode = "FIXED"
            render.threads = threads
        scene.view_settings.view_transform = settings.view_transform
        # Blender writes an uncompressed PNG that the worker encodes as JPEG: Blender's own
        # JPEGs carry render timings as comments, so identical renders would differ in bytes.
        image = render.image_settings
        image.file_format = "PNG"
        image.color_mode = "RGB"
        image.color_depth = "8"
        image.compression = 0
        render.use_file_extension = False

    def _build_world(self, stage: Stage) -> None:
        # A factory-empty file has no world at all (black, no ambient light).
        world = bpy.data.worlds.new("World")
        background = world.node_tree.nodes["Background"]
        background.inputs["Color"].default_value = (*stage.world_colour, 1.0)
        background.inputs["Strength"].default_value = stage.world_strength
        self.scene.world = world

    def _build_camera(self, stage: Stage) -> None:
        data = bpy.data.cameras.new("Camera")
        data.lens_unit = "FOV"
        data.angle = stage.camera_fov
        camera = bpy.data.objects.new("Camera", data)
        camera.location = stage.camera_location
        camera.rotation_euler = stage.camera_rotation
        self.scene.collection.objects.link(camera)
        self.scene.camera = camera

    def _build_floor(self, stage: Stage) -> bpy.types.NodeSocket:
        half = stage.floor_size / 2
        mesh = bpy.data.meshes.new("Floor")
        corners = [(-half, -half, 0.0), (half, -half, 0.0), (half, half, 0.0), (-half, half, 0.0)]
        mesh.from_pydata(corners, [], [(0, 1, 2, 3)])
        floor = bpy.data.objects.new("Floor", mesh)
        floor.location = (0.0, 0.0, stage.floor_z)
        # Cycles ignores a material's diffuse_color: the colour must come from a node.
        material = bpy.data.materials.new("Floor")
        nodes = material.node_tree.nodes
        nodes.clear()
        diffuse = nodes.new("ShaderNodeBsdfDiffuse")
        diffuse.inputs["Roughness"].default_value = 0.0
        output = nodes.new("ShaderNodeOutputMaterial")
        material.node_tree.links.new(diffuse.outputs["BSDF"], output.inputs["Surface"])
        mesh.materials.append(material)
        self.scene.collection.objects.link(floor)
        return diffuse.inputs["Color"]

    def _build_lights(self, stage: Stage) -> bpy.types.Object:
        sun_data = bpy.data.lights.new("Sun", "SUN")
        sun_data.energy = stage.sun_strength
        sun_data.angle = stage.sun_angle
        sun_data.use_shadow = stage.sun_casts_shadows
        sun = bpy.data.objects.new("Sun", sun_data)
        sun.rotation_euler = stage.sun_rotation
        self.scene.collection.objects.link(sun)
        spot_data = bpy.data.lights.new("Spot", "SPOT")
        spot_data.energy = stage.spot_energy
        spot_data.spot_size = stage.spot_size
        spot_data.spot_blend = stage.spot_blend
        spot_data.shadow_soft_size = stage.spot_radius  # Blender 5 defaults to 0 (hard shadows)
        spot = bpy.data.objects.new("Spot", spot_data)
        self.scene.collection.objects.link(spot)
        return spot

    def load_model(self, mesh_path: Path) -> list[str]:
        """Replace the current model with the OBJ at ``mesh_path``, upright, its bounding-box
        centre at the origin. Returns warnings (missing textures are dropped, not fatal)."""
        self.remove_model()
        before = set(bpy.data.objects)
        bpy.ops.wm.obj_import(
            filepath=str(mesh_path),
            forward_axis="NEGATIVE_Z",
            up_axis="Y",
            use_split_objects=False,
            use_split_groups=False,
            validate_meshes=True,
        )
        imported = [o for o in bpy.data.objects if o not in before]
        meshes = [o for o in imported if o.type == "MESH"]
        for extra in imported:
            if extra not in meshes[:1]:
                bpy.data.objects.remove(extra, do_unlink=True)
        if not meshes:
            raise ModelError("no mesh in the OBJ file")
        model = meshes[0]
        self.model = model
        # The importer turns Y-up into Z-up with an object rotation; bake it into the mesh
        # so that the view's rotation is the object's whole rotation, as published.
        model.data.transform(model.matrix_basis)
        model.matrix_basis = Matrix.Identity(4)
        if len(model.data.polygons) == 0:
            raise ModelError("no faces after import")
        coords = np.empty(len(model.data.vertices) * 3, dtype=np.float64)
        model.data.vertices.foreach_get("co", coords)
        coords = coords.reshape(-1, 3)
        if not np.isfinite(coords).all():
            raise ModelError("non-finite vertex coordinates")
        low, high = coords.min(axis=0), coords.max(axis=0)
        if not (high - low).max() > 0:
            raise ModelError("degenerate mesh (zero-size bounding box)")
        model.data.transform(Matrix.Translation(-(low + high) / 2))
        model.rotation_mode = "XYZ"
        bpy.context.view_layer.update()  # refresh the cached bounding box
        return self._drop_missing_textures(model)

    @staticmethod
    def _drop_missing_textures(model: bpy.types.Object) -> list[str]:
        """A missing texture renders magenta: remove its node so the material's own colour
        shows instead (ShapeNet often lacks textures; docs/protocol.md section 2)."""
        warnings = []
        for material in model.data.materials:
            if material is None or material.node_tree is None:
                continue
            nodes = material.node_tree.nodes
            for node in list(nodes):
                if node.bl_idname != "ShaderNodeTexImage" or node.image is None:
                    continue
                path = bpy.path.abspath(node.image.filepath)
                if not os.path.isfile(path):
                    warnings.append(f"missing texture {path}")
                    nodes.remove(node)
        return warnings

    def remove_model(self) -> None:
        if self.model is None:
            return
        bpy.data.objects.remove(self.model, do_unlink=True)
        self.model = None
        # Free the mesh, its materials and images so memory stays flat over many objects.
        bpy.data.orphans_purge(do_local_ids=True, do_linked_ids=True, do_recursive=True)

    def render_view(self, description: SceneDescription, seed: int, path: Path) -> None:
        """Set one view's factors and render it as an 8-bit PNG (display colours) to ``path``."""
        if description.stage != self.stage:
            raise ValueError("a view must use the stage the scene was built with")
        if self.model is None:
            raise ModelError("no model loaded")
        self.model.rotation_euler = description.object_rotation
        self.model.location = description.object_location
        self.floor_colour.default_value = (*description.floor_colour, 1.0)
        self.spot.location = description.spot_location
        self.spot.rotation_euler = description.spot_rotation
        self.spot.data.color = description.spot_colour
        self.scene.cycles.seed = seed
        self.scene.render.filepath = str(path)
        bpy.ops.render.render(write_still=True)
