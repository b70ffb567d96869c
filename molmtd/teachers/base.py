"""The Teacher protocol, the teacher registry and spec strings ("ecfp:radius=2,size=2048")."""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from molmtd.errors import TeacherSpecError

__all__ = [
    "Teacher",
    "TeacherOutput",
    "TeacherInfo",
    "register_teacher",
    "parse_spec",
    "format_spec",
    "get_teacher",
    "list_teachers",
    "teacher_names",
    "split_spec_list",
]


@dataclass(frozen=True)
class TeacherOutput:
    """Embeddings of a batch, aligned with the input.

    Attributes:
        embeddings: float32 array of shape ``[n, dim]``; rows where ``ok`` is False are NaN.
        ok: bool array of shape ``[n]``; False where the teacher could not embed the molecule.
        reasons: position -> why that molecule failed (only failed positions).
    """

    embeddings: np.ndarray
    ok: np.ndarray
    reasons: dict[int, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.embeddings.ndim != 2 or self.ok.shape != (self.embeddings.shape[0],):
            raise ValueError(
                f"TeacherOutput: embeddings must be [n, dim] and ok [n]; got "
                f"{self.embeddings.shape} and {self.ok.shape}"
            )


class Teacher(ABC):
    """A model that embeds standardised SMILES into fixed-size float32 vectors.

    Subclasses store their arguments in ``__init__`` and nothing else: models load on
    first ``embed`` (or ``dim``). Register them with :func:`register_teacher`.

    Class attributes:
        name: registry name, the part of the spec before ":".
        family: "fingerprint", "descriptor", "gnn", "smiles" or "file".
        runtime_params: constructor arguments that do not change the output (n_jobs,
            batch_size, device); they are left out of the canonical spec and cache keys.
    """

    name: str = ""
    family: str = ""
    runtime_params: frozenset[str] = frozenset({"n_jobs", "batch_size", "device"})

    @property
    def spec(self) -> str:
        """Canonical spec: the name and every output-relevant parameter, defaults included."""
        return format_spec(self.name, self.params())

    def params(self) -> dict[str, object]:
        """Output-relevant constructor parameters (read back from attributes of the same name)."""
        sig = inspect.signature(type(self).__init__)
        return {
            p: getattr(self, p)
            for p in sig.parameters
            if p != "self" and p not in self.runtime_params and hasattr(self, p)
        }

    @property
    def version(self) -> str:
        """A string that changes when the teacher's output may change (back-end versions)."""
        return "1"

    def trained_on(self) -> frozenset[str]:
        """Labelled tasks (TDC ADMET ids, e.g. "Solubility_AqSolDB") this model learnt from.

        Empty when none or unknown. ``molmtd evaluate`` uses it to flag benchmark tasks
        whose labels a featurizer has already seen, so they are not read as held out.
        """
        return frozenset()

    @property
    @abstractmethod
    def dim(self) -> int:
        """Embedding dimension."""

    @abstractmethod
    def embed(self, smiles: Sequence[str]) -> TeacherOutput:
        """Embed a batch of standardised SMILES.

        Never raises for a bad molecule: it is reported through ``ok`` and ``reasons``.
        """

    @classmethod
    def available(cls) -> tuple[bool, str]:
        """Whether this teacher can run here; if not, the reason and how to fix it."""
        return True, ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.spec!r})"


@dataclass(frozen=True)
class TeacherInfo:
    """One registry entry, as listed by ``molmtd teachers``."""

    name: str
    family: str
    description: str
    factory: Callable[..., Teacher]

    def available(self) -> tuple[bool, str]:
        check = getattr(self.factory, "available", None)
        return check() if check else (True, "")


_REGISTRY: dict[str, TeacherInfo] = {}


def register_teacher(name: str, family: str, description: str = ""):
    """Class decorator: make a Teacher available under ``name`` in spec strings."""

    def decorate(cls):
        if name in _REGISTRY and _REGISTRY[name].factory is not cls:
            raise ValueError(f"teacher name {name!r} is already registered")
        cls.name = name
        cls.family = family
        doc = description or (inspect.getdoc(cls) or "").split("\n")[0]
        _REGISTRY[name] = TeacherInfo(name, family, doc, cls)
        return cls

    return decorate


def _parse_value(text: str) -> object:
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def parse_spec(spec: str) -> tuple[str, dict[str, object]]:
    """Split ``"name:key=value,key=value"`` into the name and typed parameters.

    Values are read as bool, None, int or float where they look like one, else string.
    A value that contains "," or ":" (a path, say) can be quoted: ``files:path="a,b.npy"``.

    Raises:
        TeacherSpecError: if a parameter is not of the form key=value.
    """
    spec = spec.strip()
    name, _, rest = spec.partition(":")
    name = name.strip()
    if not name:
        raise TeacherSpecError(f"teacher spec {spec!r} has no name; expected e.g. 'ecfp:radius=2'")
    params: dict[str, object] = {}
    for item in _split_params(rest):
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise TeacherSpecError(
                f"teacher spec {spec!r}: parameter {item!r} must be key=value, "
                f"e.g. '{name}:radius=2'"
            )
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            params[key.strip()] = value[1:-1]
        else:
            params[key.strip()] = _parse_value(value)
    return name, params


def _split_params(text: str) -> list[str]:
    items, current, quote = [], [], ""
    for ch in text:
        if quote:
            current.append(ch)
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
            current.append(ch)
        elif ch == ",":
            items.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    if "".join(current).strip():
        items.append("".join(current).strip())
    return [i for i in items if i]


def format_spec(name: str, params: dict[str, object]) -> str:
    """Inverse of :func:`parse_spec`, with parameters sorted by key."""
    if not params:
        return name
    parts = []
    for key in sorted(params):
        value = params[key]
        text = str(value)
        if isinstance(value, str) and any(c in text for c in ",:=\"' "):
            text = f'"{text}"'
        parts.append(f"{key}={text}")
    return f"{name}:{','.join(parts)}"


def split_spec_list(text: str) -> list[str]:
    """Split "ecfp:radius=2,size=1024,maccs" into specs.

    Specs carry commas inside their parameters, so a new spec starts at a comma whose
    item has no "=" before any ":" (a bare name such as "maccs" or "chemprop:...").
    """
    items: list[str] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        if items and "=" in part.split(":", 1)[0]:
            items[-1] += "," + part
        else:
            items.append(part)
    return items


def get_teacher(spec: str | Teacher, **runtime: object) -> Teacher:
    """Build a teacher from a spec string (or return a Teacher unchanged).

    Args:
        spec: e.g. ``"ecfp:radius=2,size=2048"``; see :func:`list_teachers`.
        **runtime: runtime parameters (n_jobs, batch_size, device) that the teacher accepts.

    Raises:
        TeacherSpecError: unknown name or parameter; the message lists what exists.
    """
    if isinstance(spec, Teacher):
        return spec
    _load_builtin_teachers()
    name, params = parse_spec(spec)
    if name not in _REGISTRY:
        raise TeacherSpecError(
            f"unknown teacher {name!r} in spec {spec!r}; known teachers: "
            f"{', '.join(sorted(_REGISTRY))} (run `molmtd teachers` for details)"
        )
    factory = _REGISTRY[name].factory
    accepted = [p for p in inspect.signature(factory.__init__).parameters if p != "self"]
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise TeacherSpecError(
            f"teacher {name!r} has no parameter {', '.join(map(repr, unknown))}; "
            f"accepted: {', '.join(accepted) or 'none'}"
        )
    extra = {k: v for k, v in runtime.items() if k in accepted and v is not None}
    try:
        return factory(**params, **extra)
    except TypeError as err:
        raise TeacherSpecError(f"teacher spec {spec!r}: {err}") from err


def list_teachers() -> list[TeacherInfo]:
    """Every registered teacher, sorted by family then name."""
    _load_builtin_teachers()
    return sorted(_REGISTRY.values(), key=lambda t: (t.family, t.name))


def teacher_names() -> list[str]:
    _load_builtin_teachers()
    return sorted(_REGISTRY)


def _load_builtin_teachers() -> None:
    # Importing the package registers the built-in families (cheap: back-ends load lazily).
    import molmtd.teachers  # noqa: F401
