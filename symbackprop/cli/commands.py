"""Command line: ``symbackprop run|derive|diagram|generate|inspect|check|bench|sweep|predict``,
``evaluate|init|list|export|exam|slides``."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import gc
import math
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from ..errors import SymbackpropError, TrainingDiverged
from ..util.version import __version__

if TYPE_CHECKING:
    from ..render.printing import Notation
    from ..spec.model import Spec

EXIT_USAGE = 2
"""Exit status for bad input (and argparse's usage errors)."""

EXIT_DIVERGED = 3
"""Exit status of a ``run`` whose training diverged (a non-finite loss or update)."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="symbackprop",
        description=(
            "Derive backpropagation with SymPy, print it as LaTeX and compile it to a standalone "
            "Numba training module. SPEC is a built-in spec's name (xor, digits, ...) or a path "
            "to a spec file (.toml)."
        ),
    )
    parser.add_argument("--version", action="version", version=f"symbackprop {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in (
        _add_run, _add_derive, _add_diagram, _add_generate, _add_inspect, _add_check,
        _add_sweep, _add_bench, _add_exam, _add_export, _add_slides,
    ):
        add(commands)
    return parser


def _spec_command(commands: Any, name: str, help_: str) -> argparse.ArgumentParser:
    sub = commands.add_parser(name, help=help_, description=help_)
    sub.add_argument("spec", metavar="SPEC", help="built-in spec name or spec file")
    return sub


def _derivation_options(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--expand", action="store_true", help="add every weight's closed form")
    _notation_options(sub)


def _notation_options(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--notation", default="default", help="notation profile: default | nielsen | goodfellow"
    )
    sub.add_argument(
        "--indices",
        type=int,
        choices=(0, 1),
        help="count neurons and samples from 0 or 1 (default: the profile's own: default 0, "
        "nielsen and goodfellow 1)",
    )


def _example_options(sub: argparse.ArgumentParser, example_help: str) -> None:
    """--example and the options that shape it (derive, diagram, slides)."""
    sub.add_argument("--example", action="store_true", help=example_help)
    sub.add_argument(
        "--weights", metavar="FILE.npz", type=Path, help="--example: initial weights (W1, b1, ...)"
    )
    sub.add_argument(
        "--sample", metavar="N", type=int, help="--example: index of the training sample"
    )
    sub.add_argument(
        "--digits", metavar="D", type=int, help="--example: significant digits (default 4)"
    )


def _add_run(commands: Any) -> None:
    """symbackprop run and its workflow commands (predict, evaluate, ...)."""
    run = _spec_command(
        commands, "run", "derive, generate, train and report (prints the derivation)"
    )
    _derivation_options(run)
    run.add_argument("--epochs", type=int, help="override the spec's number of epochs")
    run.add_argument("--quiet-derivation", action="store_true", help="do not print the LaTeX")
    workflow_parsers(commands, run)


def _add_export(commands: Any) -> None:
    """symbackprop export."""
    help_ = "saved weights as a PyTorch nn.Sequential state dict (and ONNX)"
    sub = commands.add_parser("export", help=help_, description=help_)
    sub.add_argument("spec", metavar="SPEC", help="built-in spec name or spec file")
    sub.add_argument("weights", metavar="WEIGHTS", type=Path, help=".npz from run --save")
    sub.add_argument("--torch", type=Path, metavar="FILE.pt", help="write the state dict here")
    sub.add_argument("--onnx", type=Path, metavar="FILE.onnx", help="write an ONNX model here")
    sub.add_argument("--force", action="store_true", help="overwrite a foreign file")


def _add_derive(commands: Any) -> None:
    """symbackprop derive."""
    derive = _spec_command(commands, "derive", "print the derivation (LaTeX by default)")
    _derivation_options(derive)
    derive.add_argument("--format", default="latex", choices=("latex", "markdown", "text"))
    derive.add_argument("--document", action="store_true", help="a complete .tex document")
    derive.add_argument("--pdf", action="store_true", help="compile the document to PDF")
    derive.add_argument("--weight", metavar="WEIGHT", help="chain of partials for one weight")
    _example_options(derive, "a worked numeric example on one sample")
    derive.add_argument(
        "--fd",
        action="store_true",
        help="--example: a central finite difference of the loss beside each printed gradient",
    )
    derive.add_argument(
        "--compare",
        nargs="+",
        action="extend",
        metavar="OTHER_SPEC",
        help="show where SPEC and these specs differ, one column each",
    )
    derive.add_argument(
        "--forms",
        metavar="FORMS",
        help="the step side by side in these forms, e.g. index,matrix,batch (shapes written in)",
    )
    derive.add_argument(
        "--lecture",
        action="store_true",
        help="for slides and exams: no banner or implementation notes, reasons name the rules",
    )
    derive.add_argument("--title", help="the document's title (plain text)")
    derive.add_argument("-o", "--output", type=Path, help="write to FILE instead of stdout")
    derive.add_argument("--force", action="store_true", help="overwrite an existing file")


def _add_diagram(commands: Any) -> None:
    """symbackprop diagram."""
    diagram = _spec_command(commands, "diagram", "draw the network as a TikZ picture (LaTeX)")
    diagram.add_argument("--weight", metavar="WEIGHT", help="highlight this weight's paths")
    _example_options(diagram, "one sample's numbers")
    _notation_options(diagram)
    diagram.add_argument(
        "--lecture", action="store_true", help="a caption stating the notation, for slides"
    )
    diagram.add_argument("--title", help="a caption's title (plain text)")
    diagram.add_argument(
        "--graph",
        nargs="?",
        const="auto",
        choices=("auto", "scalar", "layer"),
        help="the computational graph instead: one node per operation, each edge's local "
        "derivative (scalar: one node per scalar operation, small networks; layer: one per "
        "layer operation; default: scalar where it fits)",
    )
    diagram.add_argument("--bare", action="store_true", help="a tikzpicture to \\input")
    diagram.add_argument("--pdf", action="store_true", help="compile it to PDF")
    diagram.add_argument("-o", "--output", type=Path, help="write to FILE instead of stdout")
    diagram.add_argument("--force", action="store_true", help="overwrite an existing file")


def _add_generate(commands: Any) -> None:
    """symbackprop generate."""
    generate = _spec_command(commands, "generate", "write the standalone training module")
    generate.add_argument("-o", "--output", type=Path, help="default: generated/<name>.py")
    generate.add_argument("--force", action="store_true", help="overwrite a foreign file")
    generate.add_argument(
        "--kernels",
        choices=("fixed", "tuned"),
        help="fixed: one kernel per layer; tuned: every variant and a run-time tuner, "
        "compiles ~2-3x longer (default: the spec's network.kernels, fixed)",
    )


def _add_inspect(commands: Any) -> None:
    """symbackprop inspect."""
    inspect = _spec_command(
        commands, "inspect", "closed-form gradient of one weight (LaTeX and text)"
    )
    inspect.add_argument("weight", metavar="WEIGHT", help="e.g. 'W2[0,1]' or 'b1[3]'")
    _notation_options(inspect)


def _add_check(commands: Any) -> None:
    """symbackprop check."""
    check = _spec_command(commands, "check", "generated gradients vs central finite differences")
    check.add_argument(
        "--tolerance", type=_positive_float, default=1e-6, help="max relative error"
    )
    check.add_argument(
        "--float32-tolerance",
        type=_positive_float,
        default=1e-4,
        help="float32 specs: max relative difference from the float64 gradients",
    )
    check.add_argument("--seed", type=int, default=0)


def _add_sweep(commands: Any) -> None:
    """symbackprop sweep."""
    sweep = _spec_command(
        commands, "sweep", "train a grid of variants x seeds on Dask (local or a cluster)"
    )
    sweep.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="KEY=V1,V2",
        help="a spec field (learning_rate, layers, training.epochs, ...) and its values",
    )
    sweep.add_argument("--seeds", type=int, default=1, help="trials per variant (seeds)")
    sweep.add_argument("--scheduler", metavar="ADDRESS", help="a Dask scheduler, tcp://HOST:PORT")
    sweep.add_argument("--workers", type=int, help="local cluster: worker processes (cores)")
    sweep.add_argument("--output", type=Path, help="results folder (rerun with it to resume)")
    sweep.add_argument(
        "--derivations", action="store_true", help="the best variant's derivation vs the spec"
    )


def _add_bench(commands: Any) -> None:
    """symbackprop bench."""
    bench = commands.add_parser("bench", help="benchmark generated modules against peers")
    bench.add_argument("--workload", nargs="*", help="workload names (default: all)")
    bench.add_argument("--dtype", default="float64", choices=("float64", "float32"))
    bench.add_argument("--peers", default="torch,jax,numpy", help="comma-separated peers")
    bench.add_argument("--repeats", type=int, default=5)
    bench.add_argument(
        "--output", type=Path, help="results folder (default: a new bench-<time> folder)"
    )
    bench.add_argument("--force", action="store_true", help="replace results not written by us")
    bench.add_argument(
        "--isa",
        default="native",
        choices=("native", "avx2"),
        help="avx2: re-run under OPENBLAS_CORETYPE=Haswell NUMBA_CPU_NAME=haswell "
        "XLA_FLAGS=--xla_cpu_max_isa=AVX2 (AVX2 code paths on an AVX-512 machine)",
    )
    bench.add_argument(
        "--kernels",
        default="fixed",
        choices=("fixed", "tuned"),
        help="the generated modules' kernels: fixed (the default module) or tuned (every "
        "variant, chosen by the run-time tuner)",
    )


def _add_exam(commands: Any) -> None:
    """symbackprop exam."""
    exam = _spec_command(
        commands, "exam", "exercise and solution sheets with random numbers, one per variant"
    )
    exam.add_argument("--variants", type=int, default=1, metavar="N", help="how many (1-200)")
    exam.add_argument("--seed", type=int, default=0, help="the same seed gives the same files")
    exam.add_argument("-o", "--output", type=Path, required=True, metavar="DIR", help="folder")
    exam.add_argument("--answers", type=Path, metavar="FILE.json", help="default: DIR/answers.json")
    _notation_options(exam)
    exam.add_argument("--no-pdf", action="store_true", help="only the .tex (no LaTeX run)")


def _add_slides(commands: Any) -> None:
    """symbackprop slides."""
    slides = _spec_command(
        commands, "slides", "a Beamer deck: one derivation line per overlay, the network beside"
    )
    slides.add_argument(
        "-o", "--output", type=Path, metavar="FILE",
        help="the PDF (default: SPEC-slides.pdf), or with --tex the .tex (default: stdout)",
    )
    slides.add_argument(
        "--tex", action="store_true", help="write the LaTeX source instead of compiling it"
    )
    _example_options(slides, "add a worked example section")
    _notation_options(slides)
    slides.add_argument(
        "--lecture", action="store_true", help="no banner, reasons that name the calculus rules"
    )
    slides.add_argument("--title", help="the deck's title (plain text)")
    slides.add_argument("--force", action="store_true", help="overwrite an existing file")


def _positive_float(text: str) -> float:
    """A finite number > 0 (argparse type: anything else is a usage error)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, not {text!r}")
    return value


def main(argv: list[str] | None = None, out: TextIO | None = None) -> int:
    """Entry point; returns the exit status.

    Run as the program (no ``argv``: the process exits next), it freezes the objects the garbage
    collector tracks on the way out, so that the interpreter's last collections skip them: once
    Numba has set up its compiler (about 100,000 objects) they cost 0.2-0.3 s of CPU, a third of
    a warm ``predict`` (issue 17). Exit handlers still run and every file is already closed."""
    try:
        return _main(argv, out)
    finally:
        if argv is None:
            gc.freeze()


def _main(argv: list[str] | None, out: TextIO | None) -> int:
    out = out or sys.stdout
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(out)
        return 0
    try:
        return _COMMANDS[args.command](args, out)
    except TrainingDiverged as exc:
        print(f"symbackprop: error: {exc}", file=sys.stderr)
        return EXIT_DIVERGED
    except SymbackpropError as exc:
        print(f"symbackprop: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("symbackprop: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (``symbackprop derive digits | head``): no traceback; stdout
        # goes to /dev/null so that the interpreter's last flush does not fail again
        if out is sys.stdout:
            with contextlib.suppress(OSError, ValueError):  # no file descriptor (a notebook)
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, as a shell reports a reader that closed the pipe


def _document(args: argparse.Namespace, spec):  # noqa: ANN001, ANN202
    from ..run.documents import document_for

    return document_for(
        spec,
        args.notation,
        expand=args.expand,
        weight=getattr(args, "weight", None),
        example=getattr(args, "example", False),
        weights=getattr(args, "weights", None),
        sample=getattr(args, "sample", None),
        digits=getattr(args, "digits", None),
        lecture=getattr(args, "lecture", False),
        title=getattr(args, "title", None),
        indices=getattr(args, "indices", None),
        forms=getattr(args, "forms", None),
        fd=getattr(args, "fd", False),
    )


def _run(args: argparse.Namespace, out: TextIO) -> int:
    from ..run.workflow import run_command

    return run_command(args, out)


def workflow_parsers(commands: argparse._SubParsersAction, run: argparse.ArgumentParser) -> None:
    """``run``'s steering options, and predict, evaluate, init, list (see workflow.py)."""
    from ..run.workflow import add_run_options

    add_run_options(run)
    for name, help_ in (
        ("predict", "CSV of predictions (class first for classifiers) from saved weights"),
        ("evaluate", "loss (and accuracy) of saved weights on data"),
    ):
        sub = commands.add_parser(name, help=help_, description=help_)
        sub.add_argument("spec", metavar="SPEC", help="built-in spec name or spec file")
        sub.add_argument("weights", metavar="WEIGHTS", type=Path, help=".npz from run --save")
        sub.add_argument("data", metavar="DATA", help=".csv / .npz file or built-in dataset")
        if name == "predict":
            sub.add_argument("-o", "--output", type=Path, help="write the CSV to FILE")
            sub.add_argument("--force", action="store_true", help="overwrite a foreign file")
        else:
            sub.add_argument(
                "--json",
                action="store_true",
                help="one JSON object: per-class precision/recall/F1 and the confusion matrix, "
                "or MSE, MAE and R2",
            )
    init = commands.add_parser("init", help="write a commented starter spec NAME.toml")
    init.add_argument("name", metavar="NAME", help="spec name (or NAME.toml path)")
    commands.add_parser("list", help="built-in specs, activations, losses, optimizers, datasets")


def _workflow(name: str):  # noqa: ANN202
    def command(args: argparse.Namespace, out: TextIO) -> int:
        from ..run import workflow

        return getattr(workflow, f"{name}_command")(args, out)

    return command


def _comparison(args: argparse.Namespace, spec: Spec, notation: Notation) -> str:
    """derive --compare: SPEC and the other specs side by side, each spec once."""
    from ..pipeline import derivation_of
    from ..render.compare import check_count, compare, compare_document

    check_count(1 + len(args.compare), args.format)
    derivations = [derivation_of(s) for s in _compared(args, spec)]
    if args.pdf or args.document:
        return compare_document(derivations, notation)
    return compare(derivations, args.format, notation)


def _compared(args: argparse.Namespace, spec: Spec) -> list[Spec]:
    """SPEC and the --compare specs, loaded; refused where one is given twice (as SPEC, or as
    another path to one file) or describes a network another already does."""
    from ..spec.model import load_spec, resolve

    given = [args.spec, *args.compare]
    files = [resolve(args.spec).resolve()]
    specs = [spec]
    for source in args.compare:
        specs.append(load_spec(source))
        path = resolve(source).resolve()
        if path in files:
            index = files.index(path)
            first = given[index]
            if source == first:
                said = "is SPEC as well" if index == 0 else "is given twice"
            else:
                said = f"is the same spec file as {'SPEC, ' if index == 0 else ''}{first}"
            raise SymbackpropError(f"{source} {said}; compare each spec once", "--compare")
        files.append(path)
        networks = [_network(other) for other in specs[:-1]]
        if _network(specs[-1]) in networks:
            first = given[networks.index(_network(specs[-1]))]
            raise SymbackpropError(
                f"{source} describes the same network as {first} (they differ in training, "
                "data or precision only, which a derivation does not show); compare each "
                "network once",
                "--compare",
            )
    return specs


def _network(spec: Spec) -> tuple:
    """What a derivation depends on: the layers, their functions (bodies too) and the loss."""
    return (spec.layers, spec.activations, spec.output, spec.loss, spec.loss_reduction,
            spec.functions)  # fmt: skip


def _derive(args: argparse.Namespace, out: TextIO) -> int:
    from ..render.document import compile_pdf, notation_named, write_tex
    from ..spec.model import load_spec

    spec = load_spec(args.spec)
    if args.example:
        from ..run.limits import ensure_fits, module_estimate

        ensure_fits(module_estimate(spec), "the network", spec.source)
    if (args.pdf or args.document) and args.format != "latex":
        raise SymbackpropError("--document and --pdf need --format latex", "--format")
    _check_output(args, Path(f"{spec.name}.pdf"))
    if args.forms is not None:
        from ..render.forms import check_forms

        check_forms(args.forms)
        if args.compare:
            raise SymbackpropError("has no --compare form; derive each spec instead", "--forms")
    if args.compare and (args.lecture or args.title):
        raise SymbackpropError(
            "has no lecture form yet; derive each spec with --lecture instead",
            "--compare",
        )
    for flag, given in (("--weight", args.weight), ("--example", args.example),
                        ("--expand", args.expand)):  # fmt: skip
        if args.compare and given:
            raise SymbackpropError(f"has no {flag} form; derive each spec with {flag}", "--compare")
    if args.compare:
        text = _comparison(args, spec, notation_named(args.notation, args.indices))
    else:
        document = _document(args, spec)
        text = document.document() if args.pdf or args.document else document.render(args.format)
    if args.pdf:
        target = args.output or Path(f"{spec.name}.pdf")
        compile_pdf(text, target, force=args.force)
        print(f"wrote {target}", file=out)
    elif args.output:
        write_tex(text, args.output, force=args.force, fmt=args.format)
        print(f"wrote {args.output}", file=out)
    else:
        out.write(text)
    return 0


def _check_output(args: argparse.Namespace, default_pdf: Path) -> None:
    """Refuse a bad ``derive``/``diagram`` output path before any work (one line, exit 2), by
    the checks ``compile_pdf`` and ``write_tex`` make again when they write."""
    from ..render.document import check_pdf_target, check_text_target

    if args.pdf:
        check_pdf_target(args.output or default_pdf, args.force)
    elif args.output:
        check_text_target(args.output, args.force)


def _diagram(args: argparse.Namespace, out: TextIO) -> int:
    from ..render.document import compile_pdf, write_tex
    from ..run.documents import diagram_for
    from ..spec.model import load_spec

    spec = load_spec(args.spec)
    if args.bare and args.pdf:
        raise SymbackpropError("--bare makes a picture to \\input, not a document", "--pdf")
    default_pdf = Path(f"{spec.name}-{'graph' if args.graph else 'diagram'}.pdf")
    _check_output(args, default_pdf)
    text = diagram_for(
        spec,
        args.weight,
        args.example,
        args.weights,
        args.sample,
        args.digits,
        args.bare,
        notation=args.notation,
        lecture=args.lecture,
        title=args.title,
        indices=args.indices,
        graph=args.graph,
    )
    if args.pdf:
        target = args.output or default_pdf
        compile_pdf(text, target, force=args.force)
        print(f"wrote {target}", file=out)
    elif args.output:
        write_tex(text, args.output, force=args.force, fmt="latex")
        print(f"wrote {args.output}", file=out)
    else:
        out.write(text)
    return 0


def _generate(args: argparse.Namespace, out: TextIO) -> int:
    from ..codegen.source import check_module_name, write_module
    from ..pipeline import module_source
    from ..run.limits import ensure_fits, module_estimate
    from ..spec.model import load_spec
    from ..util.fileio import check_target

    spec = load_spec(args.spec)
    if args.kernels:
        spec = dataclasses.replace(spec, kernels=args.kernels)
    ensure_fits(module_estimate(spec), "the network", spec.source)
    target = args.output or Path("generated") / f"{spec.name}.py"
    check_target(target, args.force, (".py",))  # before the derivation, not after it
    check_module_name(target)
    write_module(module_source(spec), target, force=args.force)
    print(f"wrote {target}", file=out)
    return 0


def _inspect(args: argparse.Namespace, out: TextIO) -> int:
    from ..pipeline import derivation_of
    from ..render.closed_forms import inspect_steps
    from ..render.document import DerivationDocument, notation_named
    from ..render.steps import Section
    from ..spec.model import load_spec
    from ..symbolic.expansion import parse_param

    spec = load_spec(args.spec)
    ref = parse_param(args.weight, spec, "WEIGHT")
    derivation = derivation_of(spec)
    section = Section(f"Gradient of {ref}", inspect_steps(derivation, ref))
    document = DerivationDocument(derivation, notation_named(args.notation, args.indices))
    print(document.section_latex(section), file=out)
    print(document.section_text(section), file=out)
    return 0


def _check(args: argparse.Namespace, out: TextIO) -> int:

    from ..pipeline import cached_module, float64_module
    from ..run.gradcheck import check_gradients, compare_precisions
    from ..run.limits import check_estimate, check_work, ensure_fits, ensure_work_fits
    from ..spec.model import load_spec

    spec = load_spec(args.spec)
    ensure_fits(check_estimate(spec), "the gradient check", spec.source)
    ensure_work_fits(check_work(spec), "the gradient check's finite differences", spec.source)
    module = float64_module(spec)
    ok = _report_check(
        "float64 gradients vs five-point central differences",
        check_gradients(module, seed=args.seed, where=spec.source),
        args.tolerance,
        out,
    )
    if spec.dtype == "float32":
        single = cached_module(spec)
        ok &= _report_check(
            "float32 gradients vs the float64 module's",
            compare_precisions(single, module, seed=args.seed, where=spec.source),
            args.float32_tolerance,
            out,
        )
    return 0 if ok else 1


def _report_check(title: str, results: list, tolerance: float, out: TextIO) -> bool:  # noqa: ANN001
    print(title, file=out)
    print(f"{'param':<8} {'checked':>12} {'max abs error':>14} {'max rel error':>14}", file=out)
    for r in results:
        print(
            f"{r.name:<8} {f'{r.checked}/{r.total}':>12} {r.max_abs_error:>14.3e} "
            f"{r.max_rel_error:>14.3e}",
            file=out,
        )
    worst = max(r.max_rel_error for r in results)
    ok = worst < tolerance
    verdict = "OK" if ok else "MISMATCH"
    print(f"{verdict}: worst relative error {worst:.3e} (tolerance {tolerance:g})", file=out)
    return ok


def _export(args: argparse.Namespace, out: TextIO) -> int:
    from ..run.export import export_command

    return export_command(args, out)


def _exam(args: argparse.Namespace, out: TextIO) -> int:
    from ..run.exam import write_exam
    from ..spec.model import load_spec

    spec = load_spec(args.spec)
    written = write_exam(
        spec,
        args.output,
        args.variants,
        args.seed,
        notation=args.notation,
        answers=args.answers,
        pdf=False if args.no_pdf else None,
        indices=args.indices,
    )
    print(f"wrote {len(written)} files to {args.output}", file=out)
    return 0


def _slides(args: argparse.Namespace, out: TextIO) -> int:
    from ..render.document import check_pdf_target, check_text_target, compile_pdf, write_tex
    from ..run.documents import slides_for
    from ..spec.model import load_spec

    spec = load_spec(args.spec)
    if args.example:
        from ..run.limits import ensure_fits, module_estimate

        ensure_fits(module_estimate(spec), "the network", spec.source)
    target = args.output or (None if args.tex else Path(f"{spec.name}-slides.pdf"))
    if args.tex and target is not None:
        if target.suffix.lower() == ".pdf":
            raise SymbackpropError("--tex writes the LaTeX source: name a .tex file", str(target))
        check_text_target(target, args.force)
    elif target is not None:
        check_pdf_target(target, args.force)
    text = slides_for(
        spec,
        args.notation,
        args.example,
        args.weights,
        args.sample,
        args.digits,
        lecture=args.lecture,
        title=args.title,
        indices=args.indices,
    )
    if target is None:
        out.write(text)
        return 0
    if args.tex:
        write_tex(text, target, force=args.force, fmt="latex")
    else:
        compile_pdf(text, target, force=args.force, where="slides")
    print(f"wrote {target}", file=out)
    return 0


def _bench(args: argparse.Namespace, out: TextIO) -> int:
    from ..tools.bench import main as bench_main

    return bench_main(args, out)


def _sweep(args: argparse.Namespace, out: TextIO) -> int:
    from ..tools.sweep import sweep

    sweep(
        args.spec,
        args.grid,
        seeds=args.seeds,
        scheduler=args.scheduler,
        output=args.output,
        derivations=args.derivations,
        workers=args.workers,
        out=out,
    )
    return 0


_COMMANDS = {
    "run": _run,
    "derive": _derive,
    "diagram": _diagram,
    "generate": _generate,
    "inspect": _inspect,
    "check": _check,
    "bench": _bench,
    "predict": _workflow("predict"),
    "evaluate": _workflow("evaluate"),
    "init": _workflow("init"),
    "list": _workflow("list"),
    "export": _export,
    "sweep": _sweep,
    "exam": _exam,
    "slides": _slides,
}


if __name__ == "__main__":
    sys.exit(main())
