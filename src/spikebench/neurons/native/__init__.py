"""snnTorch's Leaky, Lapicque, Synaptic and Alpha neurons and spikebench's LIF over a whole sequence in compiled
loops: the fast engine's numbers, bit for bit, in one pass over the tensors per step instead of a dozen.

The eager fast engine runs a neuron step as separate PyTorch operations, forward and backward, each a pass over
the layer's tensors with its own allocation and autograd node; on a CPU they cost about a sixth of a training
batch. ``neuron_sequences.c`` computes the same float32 operations in the same order, one element at a time
(see its header), and this module runs it as one autograd function per sequence. The same library pools
convolution outputs with a multiple of 16 channels (``max_pool``: PyTorch's 2x2 max pooling, bit for bit, in
one pass each way).

The C source is compiled on first use with the system's C compiler (``$CC``, else Python's, else ``cc``) into
``$SPIKEBENCH_CACHE`` (default ``~/.cache/spikebench``), keyed by the source, the compiler, the flags and the
CPU (it is built for the CPU it runs on), and loaded with ctypes against the OpenMP runtime torch already
loaded. Without a compiler, or with ``SPIKEBENCH_NATIVE=0``, the fast engine runs its eager operations: the
same numbers, slower. ``status()`` says which, and why.
"""

from __future__ import annotations

import contextvars
import ctypes
import functools
import hashlib
import logging
import os
import platform
import shlex
import subprocess
import sysconfig
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import NamedTuple

import torch

from spikebench.neurons import fused_surrogates

LOG = logging.getLogger(__name__)
SOURCE = "neuron_sequences.c"
FLAGS = ("-O3", "-ffp-contract=off", "-fno-fast-math", "-std=c11", "-shared", "-fPIC")
"""``-ffp-contract=off``: no fused multiply-add, which would round differently from PyTorch's separate
operations."""
OPTIONAL_FLAGS = (("-march=native", "-fopenmp"), ("-march=native",), ())
"""Tried in turn: built for this CPU (hence the CPU in the cache key) on all its threads; without OpenMP (Apple's
clang) the loops run on one thread; some compilers know no ``-march``."""
DISABLE = "SPIKEBENCH_NATIVE"
_ENABLED = contextvars.ContextVar("native_neuron_kernels", default=True)


class NativeStatus(NamedTuple):
    available: bool
    detail: str
    """The compiled library's path, or why there is none."""


class Dynamics(NamedTuple):
    """A neuron model for the kernels and its constants, as ``spikebench.model.cells`` defines them:

    - ``leaky`` (also Lapicque, its input term computed before): state (membrane);
      ``U = decay U + I - reset threshold``;
    - ``synaptic``: state (current, membrane); ``S = input_decay S + I``, ``U = decay U + S - reset threshold``;
    - ``alpha``: state (excitatory, inhibitory, membrane); ``E = input_decay E + I``, ``N = decay N - I``,
      ``U = tau_alpha (E + N)``, all three zeroed where the previous membrane fired;
    - ``lif`` (spikebench's): state (potential); ``V = V + (I - V) leak_rate``, set to ``reset_value`` where it
      fired (``V >= threshold``).
    """

    model: str
    threshold: float
    decay: float = 1.0
    input_decay: float = 1.0
    tau_alpha: float = 1.0
    leak_rate: float = 0.0
    reset_value: float = 0.0

    def without_decays(self) -> Dynamics:
        """The constants at the last step of the backward pass, where the state's gradients are the outputs'
        own and add without a decay."""
        return self._replace(decay=1.0, input_decay=1.0)


_SURROGATES = {
    fused_surrogates.FusedFastSigmoid: (0, lambda slope: (slope, 0.0)),
    fused_surrogates.FusedSparseFastSigmoid: (1, lambda slope, above: (slope, above)),
    fused_surrogates.FusedATan: (2, lambda alpha: (torch.pi / 2 * alpha, alpha / 2)),
    fused_surrogates.FusedTriangular: (3, lambda threshold: (-2 * threshold, threshold)),
    fused_surrogates.FusedStraightThrough: (4, lambda: (0.0, 0.0)),
}
"""Fused spike functions the kernels compute, with their code and their two float parameters in the C source's
terms (each computed in Python double precision and rounded to float32 once, as PyTorch rounds a scalar)."""


def surrogate_code(spike_fn) -> tuple[int, float, float] | None:
    """The kernels' ``(kind, first, second)`` for a fused spike function, None for any other."""
    if not isinstance(spike_fn, fused_surrogates.FusedSpike) or spike_fn.function not in _SURROGATES:
        return None
    kind, parameters = _SURROGATES[spike_fn.function]
    return (kind, *parameters(*spike_fn.params))


def cache_directory() -> Path:
    return Path(os.environ.get("SPIKEBENCH_CACHE") or Path.home() / ".cache" / "spikebench") / "native"


def _compiler() -> list[str]:
    return shlex.split(os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc")


def _cpu() -> str:
    """What ``-march=native`` depends on: the CPU's feature flags where Linux lists them."""
    try:
        flags = [line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags")]
    except OSError:
        flags = []
    return flags[0] if flags else platform.processor() + platform.machine()


def _build(source: str, target: Path) -> str | None:
    """Compile ``source`` into ``target`` (atomically: concurrent jobs may build the same one); None if it
    worked, else the compiler's complaint."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
            return _compile(source, Path(scratch), target)
    except OSError as failure:
        return f"cannot write {target.parent}: {failure}"


def _compile(source: str, scratch: Path, target: Path) -> str | None:
    source_path, built = scratch / SOURCE, scratch / target.name
    source_path.write_text(source)
    error = ""
    for extra in OPTIONAL_FLAGS:
        command = [*_compiler(), *FLAGS, *extra, str(source_path), "-o", str(built)]
        try:
            process = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
        except (OSError, subprocess.TimeoutExpired) as failure:
            return f"{shlex.join(command)}: {failure}"
        if process.returncode == 0:
            os.replace(built, target)
            return None
        error = f"{shlex.join(command)}: {process.stderr.strip()[-400:]}"
    return error


@functools.cache
def _library() -> tuple[ctypes.CDLL | None, str]:
    if os.environ.get(DISABLE, "1") == "0":
        return None, f"disabled ({DISABLE}=0)"
    source = resources.files(__package__).joinpath(SOURCE).read_text()
    flags = [*FLAGS, *map(" ".join, OPTIONAL_FLAGS)]
    key = hashlib.sha256("\0".join([source, *_compiler(), *flags, _cpu(), torch.__version__]).encode()).hexdigest()
    target = cache_directory() / f"neuron_sequences-{key[:24]}.so"
    if not target.exists():
        LOG.info("compiling the native neuron kernels into %s", target)
        error = _build(source, target)
        if error is not None:
            LOG.warning("native neuron kernels unavailable, the fast engine runs its eager path: %s", error)
            return None, f"not compiled: {error}"
    try:
        library = ctypes.CDLL(str(target))
    except OSError as failure:
        return None, f"not loaded: {failure}"
    _declare(library)
    return library, str(target)


def _declare(library: ctypes.CDLL) -> None:
    count, flt, ptr, kind = ctypes.c_int64, ctypes.c_float, ctypes.c_void_p, ctypes.c_int
    library.leaky_forward.argtypes = [count, flt, flt, *[ptr] * 4]
    library.synaptic_forward.argtypes = [count, flt, flt, flt, *[ptr] * 5]
    library.leaky_backward.argtypes = [count, kind, flt, flt, flt, *[ptr] * 5]
    library.synaptic_backward.argtypes = [count, kind, flt, flt, flt, flt, *[ptr] * 7]
    library.alpha_forward.argtypes = [count, flt, flt, flt, flt, *[ptr] * 6]
    library.alpha_backward.argtypes = [count, kind, *[flt] * 6, *[ptr] * 10]
    library.lif_forward.argtypes = [count, flt, flt, flt, *[ptr] * 4]
    library.lif_backward.argtypes = [count, kind, flt, flt, flt, *[ptr] * 6]
    library.max_pool_forward.argtypes = [*[count] * 4, kind, *[ptr] * 3]
    library.max_pool_backward.argtypes = [*[count] * 4, kind, *[ptr] * 3]
    for kernel in ("leaky", "synaptic", "alpha", "lif", "max_pool"):
        getattr(library, f"{kernel}_forward").restype = None
        getattr(library, f"{kernel}_backward").restype = None


def status() -> NativeStatus:
    library, detail = _library()
    return NativeStatus(library is not None, detail)


@contextmanager
def disabled() -> Iterator[None]:
    """Within the block the fast engine runs its eager operations (to compare the two side by side)."""
    token = _ENABLED.set(False)
    try:
        yield
    finally:
        _ENABLED.reset(token)


def applies(spike_fn, tensors) -> bool:
    """Whether the kernels can run a sequence: a fused surrogate they know, float32 CPU tensors of one shape,
    contiguous (the kernels index them as flat arrays), the library built, and not ``disabled()``."""
    first = tensors[0]
    return (
        _ENABLED.get()
        and surrogate_code(spike_fn) is not None
        and all(
            t.device.type == "cpu" and t.dtype == torch.float32 and t.is_contiguous() and t.shape == first.shape
            for t in tensors
        )
        and _library()[0] is not None
    )


def sequence(dynamics: Dynamics, spike_fn, drives: list[torch.Tensor], state: tuple[torch.Tensor, ...]):
    """Run a layer of ``dynamics.model`` over per-step ``drives``, a drive repeated at every step passed as the
    same tensor. Returns per-step spikes and the final state, differentiable as the eager engine's."""
    unique: dict[int, int] = {}
    slots = tuple(unique.setdefault(id(drive), len(unique)) for drive in drives)
    distinct = list({id(drive): drive for drive in drives}.values())
    outputs = _Sequence.apply(dynamics, surrogate_code(spike_fn), slots, len(state), *state, *distinct)
    return list(outputs[: len(drives)]), tuple(outputs[len(drives) :])


def _pointer(tensor: torch.Tensor | None) -> int | None:
    return None if tensor is None else tensor.data_ptr()


class _Sequence(torch.autograd.Function):
    """The sequence as one autograd node: the forward pass keeps each step's surrogate input ``h`` (as the eager
    spike function does; alpha also its initial membrane, whose reset masks the first step); the backward pass
    runs the steps in reverse, as autograd would."""

    @staticmethod
    def forward(ctx, dynamics, surrogate, slots, num_states, *tensors):
        state = [tensor.clone() for tensor in tensors[:num_states]]
        initial_membrane, drives = tensors[num_states - 1], tensors[num_states:]
        keep = any(ctx.needs_input_grad)
        spikes, surrogate_inputs = [], []
        for slot in slots:
            drive = drives[slot]
            spike, h = torch.empty_like(drive), torch.empty_like(drive) if keep else None
            _step_forward(dynamics, state, drive, h, spike)
            spikes.append(spike)
            surrogate_inputs.append(h)
        ctx.set_materialize_grads(False)
        ctx.settings = (dynamics, surrogate, slots, len(drives))
        if keep:
            ctx.save_for_backward(initial_membrane, *surrogate_inputs)
        return (*spikes, *state)

    @staticmethod
    def backward(ctx, *grads):
        dynamics, surrogate, slots, num_drives = ctx.settings
        initial_membrane, *surrogate_inputs = ctx.saved_tensors
        steps = len(slots)
        # The kernels read flat arrays: a gradient may come expanded (a sum's) or strided.
        grads = [None if grad is None else grad.contiguous() for grad in grads]
        repeated = [slots.count(slot) > 1 for slot in range(num_drives)]
        # The state's gradients, owned here and overwritten step by step where nothing else holds them.
        grad_state = [None if grad is None else grad.clone() for grad in grads[steps:]]
        grad_drives: list[torch.Tensor | None] = [None] * num_drives
        for step in reversed(range(steps)):
            slot = slots[step]
            reset_source = (surrogate_inputs[step - 1], 0.0) if step else (initial_membrane, dynamics.threshold)
            grad_state, drive_gradient = _step_backward(
                dynamics.without_decays() if step == steps - 1 else dynamics,
                surrogate,
                _StepGradients(surrogate_inputs[step], grads[step], reset_source),
                grad_state,
                grad_drives[slot] if repeated[slot] else None,
            )
            if grad_drives[slot] is None:
                # Leaky's and synaptic's drive gradient is a state gradient, overwritten at the next step: a
                # repeated drive collects its gradients in a copy. Alpha's and lif's is a tensor of its own.
                shared = any(drive_gradient is gradient for gradient in grad_state)
                grad_drives[slot] = drive_gradient.clone() if repeated[slot] and shared else drive_gradient
        grad_initial = _initial_state_gradients(ctx, dynamics, grad_state)
        return (None, None, None, None, *grad_initial, *grad_drives)


def _step_forward(dynamics: Dynamics, state: list[torch.Tensor], drive, h, spike) -> None:
    """One step: ``state`` updated in place, ``h`` (if kept) and ``spike`` written."""
    library, n = _library()[0], drive.numel()
    pointers = [_pointer(tensor) for tensor in (*state, drive, h, spike)]
    if dynamics.model == "lif":
        library.lif_forward(n, dynamics.leak_rate, dynamics.threshold, dynamics.reset_value, *pointers)
    elif dynamics.model == "alpha":
        library.alpha_forward(
            n, dynamics.input_decay, dynamics.decay, dynamics.tau_alpha, dynamics.threshold, *pointers
        )
    elif dynamics.model == "synaptic":
        library.synaptic_forward(n, dynamics.input_decay, dynamics.decay, dynamics.threshold, *pointers)
    else:
        library.leaky_forward(n, dynamics.decay, dynamics.threshold, *pointers)


class _StepGradients(NamedTuple):
    """What one step's backward pass reads: the surrogate's input, the spikes' gradient (None if they have
    none), and where alpha's reset mask comes from (a tensor and the value it is compared against)."""

    h: torch.Tensor
    grad_spikes: torch.Tensor | None
    reset_source: tuple[torch.Tensor, float]


def _step_backward(dynamics: Dynamics, surrogate, step: _StepGradients, grad_state: list, total):
    """One step's backward pass: the state's gradients before the step and the drive's gradient. The drive's
    gradient is a new tensor unless the drive repeats (``total`` collects its gradients, or is None at the
    first of them), where it is overwritten at the next step like the state's."""
    library, h = _library()[0], step.h
    fresh = total is None

    def target(gradient):
        return gradient if gradient is not None and not fresh else torch.empty_like(h)

    grad_spikes = step.grad_spikes
    if grad_spikes is None and (dynamics.model in ("alpha", "lif") or grad_state[-1] is None):
        grad_spikes = torch.zeros_like(h)
    head = (h.numel(), *surrogate)
    if dynamics.model == "lif":
        (grad_potential,) = grad_state
        new_potential = torch.empty_like(h) if grad_potential is None else grad_potential
        drive = torch.empty_like(h) if fresh else None
        pointers = (grad_spikes, h, grad_potential, new_potential, drive, total)
        library.lif_backward(*head, dynamics.leak_rate, *map(_pointer, pointers))
        return [new_potential], drive
    if dynamics.model == "alpha":
        # The excitatory and inhibitory gradients are not the drive's: always overwritten in place.
        grad_excitatory, grad_inhibitory, grad_membrane = grad_state
        new_state = [torch.empty_like(h) if grad is None else grad for grad in (grad_excitatory, grad_inhibitory)]
        drive = torch.empty_like(h) if fresh else None
        source, against = step.reset_source
        pointers = (source, grad_spikes, h, grad_membrane, grad_excitatory, grad_inhibitory, *new_state, drive, total)
        library.alpha_backward(
            *head, dynamics.input_decay, dynamics.decay, dynamics.tau_alpha, against, *map(_pointer, pointers)
        )
        return [*new_state, None], drive
    if dynamics.model == "synaptic":
        grad_current, grad_membrane = grad_state
        new_membrane = grad_membrane if grad_membrane is not None else torch.empty_like(h)
        new_current = target(grad_current)
        library.synaptic_backward(
            *head, dynamics.input_decay, dynamics.decay,
            *map(_pointer, (grad_spikes, h, grad_membrane, grad_current, new_membrane, new_current, total)),
        )  # fmt: skip
        return [new_current, new_membrane], new_current
    (grad_membrane,) = grad_state
    new_membrane = target(grad_membrane)
    library.leaky_backward(
        *head, dynamics.decay, *map(_pointer, (grad_spikes, h, grad_membrane, new_membrane, total))
    )  # fmt: skip
    return [new_membrane], new_membrane


def _initial_state_gradients(ctx, dynamics: Dynamics, gradients: list) -> list:
    """The initial state's gradients, where it needs them: the first step's state gradients times the decays
    (LIF's already are the initial potential's). An initial membrane gets none where the model keeps its own
    (alpha: its membrane is recomputed; its reset is detached)."""
    needs = ctx.needs_input_grad[4 : 4 + len(gradients)]
    decays = {
        "leaky": (dynamics.decay,),
        "synaptic": (dynamics.input_decay, dynamics.decay),
        "alpha": (dynamics.input_decay, dynamics.decay, None),
        "lif": (1.0,),
    }[dynamics.model]
    return [
        gradient * decay if need and gradient is not None and decay is not None else None
        for need, decay, gradient in zip(needs, decays, gradients, strict=True)
    ]


POOLED_CHANNEL_BLOCK = 16
"""``max_pool`` takes channel counts that are multiples of this. Its loop over a cell's channels is vectorised
in blocks of 16 or 32 (the one-byte positions set the vector length) and leaves a remainder to scalar code:
with 8, 12 or 24 channels it ran 2-5x slower than PyTorch's channels-last pooling, with 16, 32 or 64 1.2-1.9x
faster (forward and backward, 128 images, fp32, a 2-core Intel Xeon), so PyTorch pools the others. In the
study's network that is the first layer's 12 channels, pooled once per batch, where the memory it keeps is small
anyway."""


def pools(tensor: torch.Tensor, kernel: int | None) -> bool:
    """Whether ``max_pool`` pools ``tensor`` with this kernel size: 2x2 windows of a float32 or bfloat16 CPU
    convolution output, channels-last and contiguous, of even height and width, with a multiple of
    ``POOLED_CHANNEL_BLOCK`` channels, the library built and not ``disabled()``."""
    return (
        _ENABLED.get()
        and kernel == 2
        and tensor.device.type == "cpu"
        and tensor.dtype in (torch.float32, torch.bfloat16)
        and tensor.dim() == 4
        and tensor.shape[1] % POOLED_CHANNEL_BLOCK == 0
        and tensor.shape[2] % 2 == 0
        and tensor.shape[3] % 2 == 0
        and tensor.is_contiguous(memory_format=torch.channels_last)
        and _library()[0] is not None
    )


def max_pool(tensor: torch.Tensor) -> torch.Tensor:
    """``F.max_pool2d(tensor, 2).float()`` (where ``pools``), bit for bit, forward and backward: channels-last
    float32 out, and for the backward pass one byte per output instead of PyTorch's int64 indices and the whole
    input."""
    return _MaxPool.apply(tensor)


class _MaxPool(torch.autograd.Function):
    @staticmethod
    def forward(ctx, tensor):
        images, channels, height, width = tensor.shape
        pooled_shape = (images, channels, height // 2, width // 2)
        pooled = torch.empty(pooled_shape, dtype=torch.float32, device="cpu", memory_format=torch.channels_last)
        position = torch.empty(pooled_shape, dtype=torch.uint8, device="cpu", memory_format=torch.channels_last)
        bf16 = int(tensor.dtype == torch.bfloat16)
        sizes = (images, height, width, channels, bf16)
        _library()[0].max_pool_forward(*sizes, *map(_pointer, (tensor, pooled, position)))
        ctx.sizes, ctx.input_dtype = sizes, tensor.dtype
        ctx.save_for_backward(position)
        return pooled

    @staticmethod
    def backward(ctx, grad):
        (position,) = ctx.saved_tensors
        images, height, width, channels, _ = ctx.sizes
        grad_input = torch.empty(
            (images, channels, height, width), dtype=ctx.input_dtype, device="cpu", memory_format=torch.channels_last
        )
        grad = grad.contiguous(memory_format=torch.channels_last)
        _library()[0].max_pool_backward(*ctx.sizes, *map(_pointer, (grad, position, grad_input)))
        return grad_input
