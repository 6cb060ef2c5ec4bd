"""Registering llama.cpp's fastest CPU code path for this machine, chosen at run time.

llama-cpp-python is built (by `make`) with `GGML_BACKEND_DL=ON GGML_CPU_ALL_VARIANTS=ON`: one
`libggml-cpu-<variant>.so` per x86-64 level (haswell: AVX2; skylakex, icelake…: AVX-512, VNNI),
none of which llama-cpp-python registers by itself ("no backends are loaded"). This picks the
variant whose instruction sets `/proc/cpuinfo` lists (those flags also say what the OS enables,
unlike CPUID alone), ranked as ggml ranks them, and registers it through the libggml that
llama_cpp loaded — so one build runs on any x86-64 CPU and uses AVX-512 where it exists. AMX
variants (sapphirerapids) are never chosen: one died with a general protection fault on a VM
whose CPU lists AMX. `ASSISTANT_LLAMA_CPU_VARIANT=haswell` forces a variant; a build with the
CPU backend linked in needs none of this ("builtin").
"""

from __future__ import annotations

import ctypes
import importlib.util
import logging
import os
import threading
from pathlib import Path

log = logging.getLogger(__name__)

ENV_VARIANT = "ASSISTANT_LLAMA_CPU_VARIANT"
_lock = threading.Lock()
_loaded: list[str] = []

# ggml's x86 feature weights (ggml/src/ggml-cpu/arch/x86/cpu-feats.cpp), keyed by the
# /proc/cpuinfo flags each feature needs
_FEATURES: dict[str, tuple[int, tuple[str, ...]]] = {
    "FMA": (1, ("fma",)),
    "F16C": (1 << 1, ("f16c",)),
    "SSE42": (1 << 2, ("sse4_2",)),
    "BMI2": (1 << 3, ("bmi2",)),
    "AVX": (1 << 4, ("avx",)),
    "AVX2": (1 << 5, ("avx2",)),
    "AVX_VNNI": (1 << 6, ("avx_vnni",)),
    "AVX512": (1 << 7, ("avx512f", "avx512cd", "avx512vl", "avx512dq", "avx512bw")),
    "AVX512_VBMI": (1 << 8, ("avx512vbmi",)),
    "AVX512_BF16": (1 << 9, ("avx512_bf16",)),
    "AVX512_VNNI": (1 << 10, ("avx512_vnni",)),
    "AMX_INT8": (1 << 11, ("amx_tile", "amx_int8")),
}
# the x86 variants GGML_CPU_ALL_VARIANTS builds (ggml/src/CMakeLists.txt) and what each needs
_BASE = ("SSE42", "AVX", "F16C", "FMA", "AVX2", "BMI2")
_VARIANTS: dict[str, tuple[str, ...]] = {
    "x64": (),
    "sse42": ("SSE42",),
    "sandybridge": ("SSE42", "AVX"),
    "ivybridge": ("SSE42", "AVX", "F16C"),
    "piledriver": ("SSE42", "AVX", "F16C", "FMA"),
    "haswell": _BASE,
    "skylakex": (*_BASE, "AVX512"),
    "cannonlake": (*_BASE, "AVX512", "AVX512_VBMI"),
    "cascadelake": (*_BASE, "AVX512", "AVX512_VNNI"),
    "icelake": (*_BASE, "AVX512", "AVX512_VBMI", "AVX512_VNNI"),
    "cooperlake": (*_BASE, "AVX512", "AVX512_VNNI", "AVX512_BF16"),
    "zen4": (*_BASE, "AVX512", "AVX512_VBMI", "AVX512_VNNI", "AVX512_BF16"),
    "alderlake": (*_BASE, "AVX_VNNI"),
    "sapphirerapids": (*_BASE, "AVX512", "AVX512_VBMI", "AVX512_VNNI", "AVX512_BF16", "AMX_INT8"),
}
_NEVER_AUTOMATIC = frozenset({"sapphirerapids"})
_PREFIX, _SUFFIX = "libggml-cpu-", ".so"


def physical_cores() -> int:
    """Physical cores (llama.cpp runs best with one thread per core), or the logical count."""
    try:
        pairs = set()
        physical = core = ""
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key == "physical id":
                physical = value.strip()
            elif key == "core id":
                core = value.strip()
            elif not line.strip() and core:
                pairs.add((physical, core))
                physical = core = ""
        if core:
            pairs.add((physical, core))
        if pairs:
            return min(len(pairs), os.cpu_count() or len(pairs))
    except OSError:
        pass
    return os.cpu_count() or 1


def _lib_dir() -> Path:
    """llama_cpp's native library folder, found without loading it."""
    override = os.environ.get("LLAMA_CPP_LIB_PATH")  # llama_cpp honours it too
    if override:
        return Path(override)
    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or spec.origin is None:
        raise RuntimeError("llama-cpp-python is not installed: run `make`")
    return Path(spec.origin).parent / "lib"


def _libllama() -> ctypes.CDLL:
    """A handle whose symbol lookups reach the libggml that libllama uses. A wheel holds copies,
    not symlinks (libggml.so, .so.0, .so.0.x.y): CDLL("libggml.so") would map a second copy
    with its own, empty backend registry; dlsym on libllama's handle searches its dependencies."""
    import llama_cpp.llama_cpp as bindings  # loads libllama → libggml → libggml-base

    lib = getattr(bindings, "_lib", None)
    if not isinstance(lib, ctypes.CDLL):
        lib = ctypes.CDLL(str(_lib_dir() / "libllama.so"))
    lib.ggml_backend_load.argtypes = [ctypes.c_char_p]
    lib.ggml_backend_load.restype = ctypes.c_void_p
    lib.ggml_backend_reg_by_name.argtypes = [ctypes.c_char_p]
    lib.ggml_backend_reg_by_name.restype = ctypes.c_void_p
    return lib


def _variants(lib_dir: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for folder in (lib_dir, lib_dir.parent.parent / "bin"):
        if folder.is_dir():
            for path in sorted(folder.glob(f"{_PREFIX}*{_SUFFIX}")):
                found.setdefault(path.name[len(_PREFIX):-len(_SUFFIX)], path)
    return found


def _cpu_flags() -> set[str] | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.partition(":")[2].split())
    except OSError:
        pass
    return None


def _score(name: str, flags: set[str]) -> int:
    """ggml's score of a variant on this CPU; 0 when the CPU (or the OS) lacks a feature it needs."""
    score = 1
    for feature in _VARIANTS[name]:
        weight, needed = _FEATURES[feature]
        if not flags.issuperset(needed):
            return 0
        score += weight
    return score


def _library_score(path: Path) -> int:
    """A variant's own ggml_backend_score() (CPUID only), when /proc/cpuinfo cannot be read."""
    import llama_cpp.llama_cpp  # noqa: F401  (a variant needs libggml-base loaded)

    try:
        score = ctypes.CDLL(str(path)).ggml_backend_score
    except (OSError, AttributeError):
        return 0
    score.restype = ctypes.c_int
    return int(score())


def ranked_variants(variants: dict[str, Path]) -> list[str]:
    """The variants this CPU can run, best first, AMX ones left out."""
    flags = _cpu_flags()
    scored: list[tuple[int, str]] = []
    for name, path in variants.items():
        if name in _NEVER_AUTOMATIC or "amx" in name:
            continue
        if flags is None:
            score = _library_score(path)
        elif name in _VARIANTS:
            score = _score(name, flags)
        else:
            continue
        if score > 0:
            scored.append((score, name))
    return [name for _, name in sorted(scored, reverse=True)]


def select_variant() -> tuple[str, Path] | None:
    """The variant `load_cpu_backend` would register, without loading it (None: a build with the
    CPU backend linked in). For `GGML_BACKEND_PATH`, which llama.cpp itself loads at start-up."""
    variants = _variants(_lib_dir())
    forced = os.environ.get(ENV_VARIANT, "").strip().lower()
    if forced and forced != "auto":
        if forced not in variants:
            raise RuntimeError(f"{ENV_VARIANT}={forced}: this build has {', '.join(sorted(variants)) or 'none'}")
        return forced, variants[forced]
    ranked = ranked_variants(variants)
    return (ranked[0], variants[ranked[0]]) if ranked else None


def load_cpu_backend() -> str:
    """Register the best CPU variant (once per process) and return its name: a variant,
    "builtin" (a build with the CPU backend linked in) or "preloaded" (registered already)."""
    with _lock:
        if _loaded:
            return _loaded[0]
        lib = _libllama()
        variants = _variants(_lib_dir())
        if lib.ggml_backend_reg_by_name(b"CPU"):
            _loaded.append("preloaded" if variants else "builtin")
            return _loaded[0]
        if not variants:
            raise RuntimeError(f"llama.cpp has no CPU backend: no {_PREFIX}*{_SUFFIX} in {_lib_dir()}; "
                               "reinstall it (make)")
        forced = os.environ.get(ENV_VARIANT, "").strip().lower()
        if forced and forced != "auto":
            if forced not in variants:
                raise RuntimeError(f"{ENV_VARIANT}={forced}: this build has {', '.join(sorted(variants))}")
            candidates = [forced]
        else:
            candidates = ranked_variants(variants)
        for name in candidates:
            if lib.ggml_backend_load(os.fsencode(variants[name])):
                log.info("llama.cpp CPU backend: %s", name)
                _loaded.append(name)
                return name
            log.warning("llama.cpp refused the CPU backend %s", variants[name])
        raise RuntimeError(f"no llama.cpp CPU backend would load (tried {', '.join(candidates) or 'none'})")
