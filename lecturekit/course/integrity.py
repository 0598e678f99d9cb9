"""Grading integrity: a student's code must not change the tests or call the reference it replaces.

Two parts:

* **At grading time** (:class:`IntegrityExecute`, an nbgrader ``Execute`` preprocessor, and
  :class:`IntegrityExecutePreprocessor` for a plain nbconvert run): before the first cell, the
  kernel captures the trusted objects (numpy's, torch's, ``lecturekit``'s and the builtins'
  attributes, the functions' code, and the names the notebook imports). Before each test cell
  they are restored and, while the test cell of exercise ``name`` runs, lecturekit's reference
  of the same name (e.g. ``logreg.grad``) raises when it is called from the student's function
  (its code is on the call stack); calls from the test cell itself still work. After the cell,
  the student's own global names are put back. A violation gives the test cell an
  ``IntegrityError`` output, so nbgrader scores it 0, even when the student caught the error.
  The extra code runs in cells that are never part of the notebook (no history, no output).
* **Before grading** (:func:`scan_submission`): an ``ast`` scan of every code cell lists calls to
  the reference from inside an exercise, assignments to attributes of lecturekit / numpy /
  builtins / the check helpers, ``__code__`` / ``setattr`` / ``importlib.reload`` tricks,
  absolute paths, ``/proc``, and shell commands. Findings name the cell (``cell 7: ...``).

This is a deterrent, not a sandbox: code in the kernel can always reach the kernel's memory.
"""

from __future__ import annotations

import ast
import builtins
import functools
import json
import re
import sys
import types
from pathlib import Path

__all__ = ["IntegrityError", "scan_submission", "scan_notebook", "exercise_names",
           "kernel_capture", "kernel_arm", "kernel_disarm",
           "IntegrityExecute", "IntegrityExecutePreprocessor",  # noqa: F822 - built on first use (__getattr__)
           "preprocessor_classes"]

#: Module roots whose attributes the kernel restores before each test cell.
TRUSTED_ROOTS = ("builtins", "numpy", "lecturekit", "warnings", "math")
#: Single modules (not their whole tree) restored too; torch has thousands of submodules.
TRUSTED_SINGLE = ("torch", "torch.nn.functional", "torch.autograd", "torch.autograd.functional", "torch.testing")
#: Always imported at capture time, whatever the notebook imports.
TRUSTED_IMPORTS = ("numpy", "numpy.testing", "lecturekit.checks", "lecturekit.patch_classifier.gradcheck")
MARKER = "__lecturekit_integrity__:"


class IntegrityError(RuntimeError):
    """Raised in the kernel when a student's exercise calls lecturekit's reference of the same name."""


# ============================================================================ kernel side
class _Guard:
    """State kept in the grading kernel between the injected cells."""

    def __init__(self):
        self.modules: dict[str, tuple[types.ModuleType, dict]] = {}
        self.functions: list[tuple[types.FunctionType, tuple]] = []
        self.bindings: dict[str, object] = {}
        self.saved: dict[str, object] = {}
        self.missing: set[str] = set()
        self.references: dict[types.CodeType, str] = {}
        self.student_codes: set[types.CodeType] = set()
        self.violations: list[str] = []
        self.previous_profile = None
        self.exercise = None
        self.solved_by: dict[str, tuple[str, ...]] = {}

    # -- capture ------------------------------------------------------------------------
    def capture(self, imports: list[str], bindings: dict[str, str]) -> None:
        import importlib

        for name in (*TRUSTED_IMPORTS, *imports):
            try:
                importlib.import_module(name)
            except Exception:  # a module the notebook names but this kernel lacks: its cell will say so
                pass
        for name, module in list(sys.modules.items()):
            if not isinstance(module, types.ModuleType) or name.startswith("lecturekit.course"):
                continue
            if name.split(".")[0] in TRUSTED_ROOTS or name in TRUSTED_SINGLE:
                self.modules[name] = (module, dict(vars(module)))
        for name, (module, snapshot) in self.modules.items():
            if name.startswith("lecturekit") or name in ("numpy", "numpy.testing", "lecturekit.checks"):
                for value in snapshot.values():
                    if isinstance(value, types.FunctionType):
                        self.functions.append((value, (value.__code__, value.__defaults__, value.__kwdefaults__)))
        for name, spec in bindings.items():
            module_name, _, attr = spec.partition(":")
            try:
                obj = importlib.import_module(module_name)
                self.bindings[name] = getattr(obj, attr) if attr else obj
            except Exception:
                pass
        from lecturekit.checks import SOLVED_BY  # copied now: a student cell could change the dict later

        self.solved_by = {exercise: tuple(specs) for exercise, specs in SOLVED_BY.items()}

    # -- restore ------------------------------------------------------------------------
    def restore(self, user_ns: dict) -> None:
        for module, snapshot in self.modules.values():
            current = vars(module)
            for key, value in snapshot.items():
                if key.startswith("_") and module is not builtins:
                    continue  # private caches change legitimately
                if current.get(key, _ABSENT) is not value and (callable(value) or isinstance(value, types.ModuleType)):
                    current[key] = value
        for function, (code, defaults, kwdefaults) in self.functions:
            if function.__code__ is not code:
                function.__code__ = code
            function.__defaults__, function.__kwdefaults__ = defaults, kwdefaults
        self.saved, self.missing = {}, set()
        builtin_names = {k for k in vars(builtins) if not k.startswith("_")}
        for name in builtin_names & set(user_ns):  # a student's `all = ...` must not reach the tests
            if user_ns[name] is not vars(builtins)[name]:
                self.saved[name] = user_ns.pop(name)
        for name, obj in self.bindings.items():
            if user_ns.get(name, _ABSENT) is not obj:
                if name in user_ns:
                    self.saved.setdefault(name, user_ns[name])
                else:
                    self.missing.add(name)
                user_ns[name] = obj

    def put_back(self, user_ns: dict) -> None:
        for name in self.missing:
            user_ns.pop(name, None)
        user_ns.update(self.saved)
        self.saved, self.missing = {}, set()

    # -- the reference guard ---------------------------------------------------------------
    def arm(self, user_ns: dict, exercise: str | None) -> None:
        self.violations, self.exercise = [], exercise
        self.references, self.student_codes = {}, set()
        if not exercise:
            return
        for name, (module, snapshot) in self.modules.items():
            ref = snapshot.get(exercise)
            if name.startswith("lecturekit") and isinstance(ref, types.FunctionType) \
                    and str(getattr(ref, "__module__", "")).startswith("lecturekit"):
                self.references[ref.__code__] = f"{ref.__module__.rsplit('.', 1)[-1]}.{exercise}"
        for spec in self.solved_by.get(exercise, ()):
            ref = self._trusted_function(spec)
            if ref is not None:
                module_name, _, qualname = spec.partition(":")
                self.references[ref.__code__] = f"{module_name.rsplit('.', 1)[-1]}.{qualname}"
        if not self.references:
            return
        student = user_ns.get(exercise)
        target = student
        while isinstance(target, functools.partial):
            target = target.func
        if isinstance(target, types.MethodType):
            target = target.__func__
        if not isinstance(target, types.FunctionType) and callable(target):
            target = getattr(type(target), "__call__", None)
        if isinstance(target, types.FunctionType):
            if target.__code__ in self.references:
                self.violations.append(f"`{exercise}` is lecturekit's reference "
                                       f"`{self.references[target.__code__]}`, not your own code")
                user_ns[exercise] = _refused(exercise, self.violations[-1])
                self.saved.setdefault(exercise, student)
                return
            self.student_codes = set(_nested_codes(target.__code__))
        if self.student_codes:
            self.previous_profile = sys.getprofile()
            sys.setprofile(self._profile)

    def _trusted_function(self, spec: str):
        """The function ``"module:Qualified.name"`` as captured before any student cell (None if absent)."""
        import importlib

        module_name, _, qualname = spec.partition(":")
        head, *rest = qualname.split(".")
        if module_name in self.modules:
            obj = self.modules[module_name][1].get(head)
        else:
            try:
                obj = getattr(importlib.import_module(module_name), head, None)
            except Exception:
                return None
        for part in rest:
            obj = vars(obj).get(part) if isinstance(obj, type) else None
        return obj if isinstance(obj, types.FunctionType) else None

    def _profile(self, frame, event, arg):
        if event != "call" or frame.f_code not in self.references:
            return
        caller = frame.f_back
        while caller is not None:
            if caller.f_code in self.student_codes:
                message = (f"your `{self.exercise}` calls lecturekit's reference `{self.references[frame.f_code]}`: "
                           "an exercise must be your own code (0 points for this exercise)")
                if message not in self.violations:
                    self.violations.append(message)
                raise IntegrityError(message)
            caller = caller.f_back

    def disarm(self, user_ns: dict) -> list[str]:
        if sys.getprofile() == self._profile:
            sys.setprofile(self.previous_profile)
        self.previous_profile = None
        self.put_back(user_ns)
        return list(self.violations)


_ABSENT = object()
_GUARD = _Guard()


def _refused(exercise: str, message: str):
    def refused(*args, **kwargs):
        raise IntegrityError(message)

    refused.__name__ = exercise
    return refused


def _nested_codes(code: types.CodeType):
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _nested_codes(const)


def _user_ns() -> dict:
    """The notebook's global names (IPython's user namespace; ``__main__`` outside IPython)."""
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:
        shell = None
    return shell.user_ns if shell is not None else vars(sys.modules["__main__"])


def kernel_capture(imports: list[str], bindings: dict[str, str]) -> None:
    """(In the grading kernel, before any student cell.) Snapshot the trusted objects.

    ``imports``: modules to import first (those the notebook imports); ``bindings``: global
    names of the notebook and what they must be while tests run, ``{"np": "numpy",
    "check_close": "lecturekit.checks:check_close"}``.
    """
    _GUARD.capture(list(imports), dict(bindings))


def kernel_arm(exercise: str | None) -> None:
    """(In the kernel, before a test cell.) Restore trusted objects; guard ``exercise``'s reference."""
    ns = _user_ns()
    _GUARD.restore(ns)
    _GUARD.arm(ns, exercise)


def kernel_disarm() -> None:
    """(In the kernel, after a test cell.) Stop the guard, give the student's names back, print violations."""
    print(MARKER + json.dumps(_GUARD.disarm(_user_ns())))


# ============================================================================ notebook side
_ALLOWED_IMPORT_ROOTS = {"numpy", "torch", "lecturekit", "warnings", "math", "matplotlib", "scipy", "ipywidgets"}


def _meta(cell) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def _source(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def exercise_names(nb) -> list[str]:
    """Ids of a notebook's code exercises (nbgrader solution cells that are not graded), in order."""
    return [_meta(c)["grade_id"] for c in nb.get("cells", []) if c.get("cell_type") == "code"
            and _meta(c).get("solution") and not _meta(c).get("grade") and _meta(c).get("grade_id")]


def exercise_of_test_cells(nb) -> dict[int, str | None]:
    """``{cell index: exercise id}`` for each graded code cell: the exercise cell right before it."""
    out, current = {}, None
    for i, cell in enumerate(nb.get("cells", [])):
        meta = _meta(cell)
        if cell.get("cell_type") != "code":
            continue
        if meta.get("solution") and not meta.get("grade"):
            current = meta.get("grade_id")
        elif meta.get("grade"):
            out[i] = current
    return out


def trusted_bindings(nb) -> tuple[list[str], dict[str, str]]:
    """(modules to import, {global name: "module" or "module:attr"}) from the notebook's imports.

    Only imports of numpy, torch, lecturekit and a few more count, only in cells that are not
    exercises, and never a name the notebook defines or assigns itself (an exercise's name).
    """
    defined, imports, bindings = set(exercise_names(nb)), [], {}
    trees = []
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        try:
            tree = ast.parse(mask_magics(_source(cell)))
        except SyntaxError:
            continue
        trees.append((cell, tree))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                defined.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
                defined.add(node.id)
    for cell, tree in trees:
        if _meta(cell).get("solution"):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] in _ALLOWED_IMPORT_ROOTS:
                        imports.append(alias.name)
                        if alias.asname:
                            bindings[alias.asname] = alias.name
                        else:
                            bindings[alias.name.split(".")[0]] = alias.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 \
                    and node.module.split(".")[0] in _ALLOWED_IMPORT_ROOTS:
                imports.append(node.module)
                for alias in node.names:
                    if alias.name != "*":
                        bindings[alias.asname or alias.name] = f"{node.module}:{alias.name}"
    return sorted(set(imports)), {k: v for k, v in bindings.items() if k not in defined}


def _make_mixin(base):
    """An Execute preprocessor (subclass of ``base``) that runs the integrity cells around test cells."""
    from nbformat.v4 import new_code_cell, new_output

    class Integrity(base):
        def preprocess(self, nb, resources=None, km=None):
            self._integrity_ready = False
            self._integrity_nb = nb
            return super().preprocess(nb, resources, km) if km is not None else super().preprocess(nb, resources)

        def _integrity_run(self, code: str, index: int) -> list[str]:
            cell, real = new_code_cell(code), self.nb.cells[index]
            try:
                self.execute_cell(cell, index, store_history=False)
            finally:  # nbclient stores the executed cell at nb.cells[index]: put the notebook's own back
                self.nb.cells[index] = real
            lines = []
            for out in cell.get("outputs", []):
                if out.get("output_type") == "stream":
                    lines += [ln[len(MARKER):] for ln in out.get("text", "").splitlines() if ln.startswith(MARKER)]
                elif out.get("output_type") == "error":
                    self.log.warning("lecturekit integrity: %s: %s", out.get("ename"), out.get("evalue"))
            return lines

        def preprocess_cell(self, cell, resources, index):
            if not getattr(self, "_integrity_ready", False):
                self._integrity_ready = True
                nb = getattr(self, "_integrity_nb", None) or self.nb
                imports, bindings = trusted_bindings(nb)
                self._integrity_tests = exercise_of_test_cells(nb)
                self._integrity_run(f"__import__('lecturekit.course.integrity', fromlist=['_']).kernel_capture("
                                    f"{imports!r}, {bindings!r})", index)
            if cell.cell_type != "code" or index not in getattr(self, "_integrity_tests", {}):
                return super().preprocess_cell(cell, resources, index)
            exercise = self._integrity_tests[index]
            mod = "__import__('lecturekit.course.integrity', fromlist=['_'])"
            self._integrity_run(f"{mod}.kernel_arm({exercise!r})", index)
            # an exception here (dead or unresponsive kernel) ends the whole run: no disarm then
            cell, resources = super().preprocess_cell(cell, resources, index)
            replies = self._integrity_run(f"{mod}.kernel_disarm()", index)
            violations = json.loads(replies[-1]) if replies else []
            shown = " ".join(str(o.get("evalue", "")) for o in cell.get("outputs", [])
                             if o.get("output_type") == "error")
            for message in violations:
                if message not in shown:
                    cell.outputs.append(new_output("error", ename="IntegrityError", evalue=message,
                                                   traceback=[f"\x1b[0;31mIntegrityError\x1b[0m: {message}"]))
            return cell, resources

    return Integrity


@functools.lru_cache(maxsize=None)
def preprocessor_classes() -> dict:
    """``{"IntegrityExecute": nbgrader Execute subclass, "IntegrityExecutePreprocessor": nbconvert one}``."""
    from nbconvert.preprocessors import ExecutePreprocessor

    out = {"IntegrityExecutePreprocessor": type("IntegrityExecutePreprocessor", (_make_mixin(ExecutePreprocessor),), {
        "__doc__": "nbconvert's ExecutePreprocessor with lecturekit's grading integrity around test cells."})}
    try:
        from nbgrader.preprocessors import Execute
    except ImportError:  # nbgrader is an optional extra
        return out
    out["IntegrityExecute"] = type("IntegrityExecute", (_make_mixin(Execute),), {
        "__doc__": "nbgrader's Execute with lecturekit's grading integrity around test cells.",
        "__module__": __name__})
    return out


def __getattr__(name):  # the preprocessor classes are built on first use (nbgrader is an extra)
    if name in ("IntegrityExecute", "IntegrityExecutePreprocessor"):
        return preprocessor_classes()[name]
    raise AttributeError(name)


# ============================================================================ static scan
def mask_magics(source: str) -> str:
    """Python source with IPython syntax turned into plain calls (``get_ipython().system(...)``)."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        return TransformerManager().transform_cell(source)
    except Exception:
        lines = []
        for line in source.splitlines():
            stripped = line.lstrip()
            indent = line[: len(line) - len(stripped)]
            if stripped.startswith(("!", "%")):
                shell = stripped.startswith(("!", "%%bash", "%sx", "%system"))
                lines.append(f"{indent}get_ipython().system({stripped!r})" if shell else f"{indent}pass")
            else:
                lines.append(line)
        return "\n".join(lines)


@functools.lru_cache(maxsize=None)
def lecturekit_function_names() -> frozenset[str]:
    """Names of top-level functions defined anywhere in lecturekit (outside lecturekit.course), read with ``ast``."""
    package = Path(__file__).resolve().parents[1]
    names = set()
    for path in package.rglob("*.py"):
        if "course" in path.relative_to(package).parts:
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
        names |= {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    return frozenset(names)


def _solver_names() -> dict[str, frozenset[str]]:
    """``{exercise: names of the module-level lecturekit functions that solve it}`` (checks.SOLVED_BY;
    methods such as ``Camera.project`` are left to the grading kernel's guard)."""
    from lecturekit.checks import SOLVED_BY

    return {exercise: frozenset(spec.partition(":")[2] for spec in specs if "." not in spec.partition(":")[2])
            for exercise, specs in SOLVED_BY.items()}


_GUARDED_ROOTS = ("lecturekit", "numpy", "builtins", "torch")
_SHELL_CALLS = {("os", "system"), ("os", "popen"), ("os", "execv"), ("os", "execvp"), ("os", "execl"),
                ("os", "spawnv"), ("os", "spawnl"), ("os", "fork"), ("os", "posix_spawn"), ("pty", "spawn")}
_DUNDERS = {"__code__", "__globals__", "__defaults__", "__kwdefaults__", "__closure__", "__builtins__"}
_PATH = re.compile(r"^(/(proc|etc|home|root|tmp|usr|var|sys|dev|opt|srv|mnt|work|Users)(/|$)|[A-Za-z]:\\|~/|\.\./)")


def _dotted(node) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return ".".join([node.id, *reversed(parts)])
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "get_ipython":
        return ".".join(["get_ipython()", *reversed(parts)])
    return None


class _Scanner(ast.NodeVisitor):
    def __init__(self, aliases: dict[str, str], exercises: set[str], references: frozenset[str],
                 solved_by: dict[str, frozenset[str]] | None = None):
        self.aliases, self.exercises, self.references = aliases, exercises, references
        self.solved_by = solved_by or {}   # exercise -> names of other lecturekit functions that solve it
        self.findings: list[str] = []
        self.function_stack: list[str] = []

    def resolve(self, node) -> str | None:
        """The full dotted name of an expression (``logreg.grad`` -> ``lecturekit.patch_classifier.logreg.grad``)."""
        dotted = _dotted(node)
        if dotted is None:
            return None
        head, _, rest = dotted.partition(".")
        if head in self.aliases:
            return self.aliases[head] + ("." + rest if rest else "")
        if head == "__builtins__":
            return "builtins" + ("." + rest if rest else "")
        return dotted

    def add(self, node, text: str) -> None:
        self.findings.append(f"line {getattr(node, 'lineno', '?')}: {text}")

    # names inside exercises
    def visit_FunctionDef(self, node):
        self.function_stack.append(node.name)
        self.generic_visit(node)
        self.function_stack.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def current_exercise(self) -> str | None:
        return next((f for f in self.function_stack if f in self.exercises), None)

    def visit_Attribute(self, node):
        if node.attr in _DUNDERS:
            self.add(node, f"uses `{node.attr}` (changing or reading a function's internals)")
        exercise = self.current_exercise()
        full = self.resolve(node)
        if exercise and node.attr == exercise and (full or "").startswith("lecturekit.") \
                and exercise in self.references:
            self.add(node, f"`{exercise}` calls lecturekit's reference `{'.'.join(full.split('.')[-2:])}`")
        else:
            self.check_solver(node, full)
        self.generic_visit(node)

    def check_solver(self, node, full: str | None) -> None:
        """A call, inside an exercise, of another lecturekit function that solves it (checks.SOLVED_BY)."""
        exercise = self.current_exercise()
        if exercise and (full or "").startswith("lecturekit.") \
                and full.rsplit(".", 1)[-1] in self.solved_by.get(exercise, ()):
            self.add(node, f"`{exercise}` calls lecturekit's `{'.'.join(full.split('.')[-2:])}`, which solves it")

    def visit_Name(self, node):
        exercise = self.current_exercise()
        full = self.aliases.get(node.id)
        if exercise and isinstance(node.ctx, ast.Load) and full and full.startswith("lecturekit.") \
                and full.rsplit(".", 1)[-1] == exercise:
            self.add(node, f"`{exercise}` calls lecturekit's reference `{'.'.join(full.split('.')[-2:])}`")
        elif isinstance(node.ctx, ast.Load):
            self.check_solver(node, full)

    def check_target(self, target, verb: str):
        if isinstance(target, (ast.Tuple, ast.List)):
            for elt in target.elts:
                self.check_target(elt, verb)
            return
        if isinstance(target, ast.Subscript):
            base = _dotted(target.value) or ""
            if base.endswith(("__dict__", "sys.modules")) or base == "sys.modules":
                self.add(target, f"{verb} `{base}[...]`")
            target = target.value
        if isinstance(target, ast.Attribute):
            full = self.resolve(target.value)
            if full and (full.split(".")[0] in _GUARDED_ROOTS or full in self.aliases.values()):
                self.add(target, f"{verb} `{_dotted(target)}`, an attribute of {full.split('.')[0]}")
        elif isinstance(target, ast.Name) and not self.function_stack:
            full = self.aliases.get(target.id)
            if (full and full.split(".")[0] in _GUARDED_ROOTS) or target.id in ("builtins", "__builtins__"):
                self.add(target, f"{verb} `{target.id}`" + (f" (imported from {full})" if full else ""))

    def visit_Assign(self, node):
        for target in node.targets:
            self.check_target(target, "assigns")
        if not self.function_stack:
            for target in node.targets:
                value = self.resolve(node.value)
                if isinstance(target, ast.Name) and target.id in self.exercises and value \
                        and value.startswith("lecturekit.") and value.rsplit(".", 1)[-1] == target.id:
                    self.add(node, f"`{target.id}` is lecturekit's reference `{'.'.join(value.split('.')[-2:])}`")
        self.generic_visit(node)

    def visit_AugAssign(self, node):
        self.check_target(node.target, "changes")
        self.generic_visit(node)

    def visit_AnnAssign(self, node):
        self.check_target(node.target, "assigns")
        self.generic_visit(node)

    def visit_Delete(self, node):
        for target in node.targets:
            self.check_target(target, "deletes")
        self.generic_visit(node)

    def visit_Import(self, node):
        for alias in node.names:
            self.check_import(node, alias.name)
        self.generic_visit(node)

    def visit_ImportFrom(self, node):
        if node.module:
            self.check_import(node, node.module)
            for alias in node.names:
                self.check_import(node, f"{node.module}.{alias.name}")
                bound = alias.asname or alias.name
                if node.module.startswith("lecturekit") and bound in self.exercises and alias.name == bound:
                    self.add(node, f"`{bound}` is lecturekit's reference `{node.module.rsplit('.', 1)[-1]}.{bound}`")
        self.generic_visit(node)

    def check_import(self, node, module: str):
        if module.split(".")[0] in ("subprocess", "ctypes", "pty") or module.startswith("lecturekit.course"):
            self.add(node, f"imports `{module}`")

    def visit_Call(self, node):
        full = self.resolve(node.func) or ""
        short = tuple(full.split(".")[-2:])
        if full in ("setattr", "delattr", "builtins.setattr", "builtins.delattr") and node.args:
            target = self.resolve(node.args[0]) or ""
            if target.split(".")[0] in _GUARDED_ROOTS or target in self.aliases.values() or not target:
                self.add(node, f"calls `{full}` on `{_dotted(node.args[0]) or '...'}`")
        elif full.endswith("reload") and (full.startswith("importlib") or full.startswith("imp.")):
            self.add(node, f"calls `{full}` (reloads a module)")
        elif full.startswith("subprocess.") or short in _SHELL_CALLS or full.startswith(("os.exec", "os.spawn")):
            self.add(node, f"runs a shell command (`{full}`)")
        elif full in ("get_ipython().system", "get_ipython().getoutput"):
            self.add(node, "runs a shell command (`!`)")
        elif full == "get_ipython().run_cell_magic" and node.args and isinstance(node.args[0], ast.Constant) \
                and node.args[0].value in ("bash", "sh", "script", "system", "writefile", "python", "capture"):
            self.add(node, f"runs `%%{node.args[0].value}`")
        elif full == "get_ipython().run_line_magic" and node.args and isinstance(node.args[0], ast.Constant) \
                and node.args[0].value in ("sx", "system", "run", "load", "env", "cd"):
            self.add(node, f"runs `%{node.args[0].value}`")
        self.generic_visit(node)

    def visit_Constant(self, node):
        if isinstance(node.value, str) and _PATH.match(node.value):
            self.add(node, f"uses the path {node.value[:60]!r} (outside the submission)")


def _aliases(trees) -> dict[str, str]:
    """Global names bound by the notebook's imports: ``{"logreg": "lecturekit.patch_classifier.logreg", ...}``."""
    out = {}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        out[alias.asname] = alias.name
                    else:
                        out[alias.name.split(".")[0]] = alias.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    if alias.name != "*":
                        out[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return out


def scan_notebook(nb, exercises: list[str] | None = None) -> list[str]:
    """Findings of the static scan of a notebook (nbformat node); see :func:`scan_submission`."""
    exercises = set(exercise_names(nb) if exercises is None else exercises)
    cells = []
    for index, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        try:
            cells.append((index, ast.parse(mask_magics(_source(cell)))))
        except SyntaxError:
            continue  # a cell that does not parse fails when it runs; nothing to hide there
    aliases = _aliases(tree for _, tree in cells)
    findings = []
    for index, tree in cells:
        scanner = _Scanner(aliases, exercises, lecturekit_function_names(), _solver_names())
        scanner.visit(tree)
        findings += [f"cell {index}: {text}" for text in dict.fromkeys(scanner.findings)]
    return findings


def scan_submission(path: Path | str, exercises: list[str] | None = None) -> list[str]:
    """Statically look for ways around the tests in a submitted notebook.

    ``path``: the submitted ``.ipynb``; ``exercises``: the part's exercise ids (function names;
    default: the notebook's nbgrader solution cells). Returns findings such as
    ``"cell 12: line 3: `grad` calls lecturekit's reference `logreg.grad`"`` (cell numbers count
    from 0 over all cells), or ``["unreadable: ..."]`` when the file is not a notebook.
    An empty list means nothing suspicious was found.
    """
    import nbformat

    try:
        nb = nbformat.reads(Path(path).read_text(encoding="utf-8", errors="replace"), as_version=4)
    except Exception as error:  # nbformat raises several types for broken JSON
        return [f"unreadable: {type(error).__name__}"]
    return scan_notebook(nb, exercises)
