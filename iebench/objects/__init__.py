"""The built-in object set: procedural meshes of ShapeNetCore categories, in ShapeNet v2 layout.

A stand-in for ShapeNetCore while no copy is at hand (`iebench objects make`).
"""

from iebench.objects.objectset import (
    BUILTIN_CATEGORIES,
    GENERATOR_VERSION,
    builtin_objects,
    make_object_set,
)

__all__ = ["BUILTIN_CATEGORIES", "GENERATOR_VERSION", "builtin_objects", "make_object_set"]
