"""Dockerfiles: multi-stage ``FROM`` with ``ARG`` substitution, ``ENV``, and ``pip``/``uv pip`` installs.

Nothing is executed: ``RUN`` lines are split into shell commands and tokenised, and the install
commands among them give requirements, index options and ``-r`` files (mapped back through ``COPY``
and ``WORKDIR`` to files of the build context). Line continuations, comments inside them, the
``escape`` directive and heredocs are handled.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from dataclasses import replace

from cudalign._dataclass import dataclass, field
from cudalign.model import Location
from cudalign.scan import shellwords
from cudalign.scan.model import (
    BuildStep,
    Declared,
    EnvVar,
    ImageRef,
    Include,
    IndexRef,
    MakeCall,
    Problem,
    SourceFile,
)
from cudalign.scan.requirements import declared

__all__ = [
    "INDEX_ENV",
    "build_command",
    "parse_dockerfile",
    "parse_install_command",
    "project_extras",
    "substitute",
]

INDEX_ENV = {
    "PIP_INDEX_URL": "index-url",
    "PIP_EXTRA_INDEX_URL": "extra-index-url",
    "PIP_FIND_LINKS": "find-links",
    "UV_INDEX_URL": "index-url",
    "UV_DEFAULT_INDEX": "index-url",
    "UV_EXTRA_INDEX_URL": "extra-index-url",
    "UV_INDEX": "extra-index-url",
    "UV_FIND_LINKS": "find-links",
    "UV_TORCH_BACKEND": "torch-backend",
}
_VAR = re.compile(r"\$\{([A-Za-z_]\w*)(?:(:?[-+])([^}]*))?\}|\$([A-Za-z_]\w*)")
_HEREDOC = re.compile(r"<<-?\s*([\"']?)([A-Za-z_]\w*)\1")
_SHELL_SPLIT = re.compile(r"&&|\|\||;|\||\n")
_INDEX_OPTS = {
    "-i": "index-url",
    "--index-url": "index-url",
    "--default-index": "index-url",
    "--extra-index-url": "extra-index-url",
    "--index": "extra-index-url",
    "-f": "find-links",
    "--find-links": "find-links",
    "--torch-backend": "torch-backend",
}
_INCLUDE_OPTS = {
    "-r": "requirement",
    "--requirement": "requirement",
    "-c": "constraint",
    "--constraint": "constraint",
}
_VALUE_OPTS = {
    "-t",
    "--target",
    "--prefix",
    "--root",
    "--platform",
    "--python-version",
    "--implementation",
    "--abi",
    "--src",
    "--upgrade-strategy",
    "--progress-bar",
    "--cache-dir",
    "--trusted-host",
    "--config-settings",
    "-C",
    "--global-option",
    "--no-binary",
    "--only-binary",
    "--python",
    "-p",
    "--index-strategy",
    "--extra",
    "--group",
    "--resolution",
    "--prerelease",
    "--build-constraint",
    "-b",
    "--override",
    "--log",
    "--timeout",
    "--retries",
    "--proxy",
    "--exists-action",
    "--report",
    "--python-platform",
    "-e",
    "--editable",
    "--keyring-provider",
    "--link-mode",
    "--config-setting",
    "--reinstall-package",
    "--upgrade-package",
    "-P",
    "--no-build-isolation-package",
    "--exclude-newer",
}
_NOT_REQUIREMENT = re.compile(r"^([.~/$]|[\w.-]*[/\\])|\.(whl|tar\.gz|zip|tgz)$|^\w+://")


@dataclass(slots=True)
class _Instruction:
    line: int
    keyword: str
    args: str
    physical: list[tuple[int, str]] = field(default_factory=list)
    heredoc: list[tuple[int, str]] = field(default_factory=list)


def substitute(text: str, variables: Mapping[str, str | None]) -> tuple[str, tuple[str, ...]]:
    """Substitute ``$VAR``, ``${VAR}``, ``${VAR:-default}`` and ``${VAR:+alt}``; return the text and
    the names that have no value."""
    missing: list[str] = []

    def one(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(4)
        value = variables.get(name)
        op, word = m.group(2), m.group(3) or ""
        if op and op.endswith("-"):
            return value if value else word
        if op and op.endswith("+"):
            return word if value else ""
        if value is None:
            missing.append(name)
            return m.group(0)
        return value

    return _VAR.sub(one, text), tuple(dict.fromkeys(missing))


def _instructions(text: str) -> list[_Instruction]:
    lines = text.splitlines()
    escape = "\\"
    for raw in lines[:5]:
        m = re.match(r"^\s*#\s*escape\s*=\s*(\S)\s*$", raw)
        if m:
            escape = m.group(1)
    out: list[_Instruction] = []
    current: _Instruction | None = None
    parts: list[str] = []
    i = 0
    while i < len(lines):
        number, raw = i + 1, lines[i]
        i += 1
        stripped = raw.strip()
        if current is None:
            if not stripped or stripped.startswith("#"):
                continue
            word, _, rest = stripped.partition(" ")
            current = _Instruction(number, word.upper(), "")
            parts = [rest] if rest else []
            if not rest and "\t" in word:
                word, _, rest = stripped.partition("\t")
                current.keyword, parts = word.upper(), [rest]
            current.physical.append((number, raw))
        else:
            if not stripped or stripped.startswith("#"):
                continue  # comments and blank lines inside a continuation are dropped
            current.physical.append((number, raw))
            parts.append(stripped)
        if parts and parts[-1].rstrip().endswith(escape):
            parts[-1] = parts[-1].rstrip()[: -len(escape)]
            continue
        current.args = " ".join(p.strip() for p in parts).strip()
        for m in _HEREDOC.finditer(current.args):
            terminator = m.group(2)
            dash = "<<-" in current.args[m.start() : m.end()]
            while i < len(lines):
                body_line = lines[i]
                i += 1
                if (body_line.lstrip("\t") if dash else body_line) == terminator:
                    break
                current.heredoc.append((i, body_line))
        out.append(current)
        current = None
    if current is not None:
        current.args = " ".join(p.strip() for p in parts).strip()
        out.append(current)
    return out


_REDIRECT = re.compile(r"^[A-Za-z0-9][\w.\-\[\],]*\s*[<>]")


class _Finder:
    """Finds the words of one instruction in its physical lines, in order: each search starts where the
    last word was found, so placing every word of a megabyte-long line is linear, not quadratic."""

    _FALLBACK = 65536  # a word not found ahead is looked for from the start only in a text this short

    def __init__(self, instr: _Instruction) -> None:
        self.lines = [*instr.physical, *instr.heredoc]
        self.default = instr.line
        self.at = (0, 0)
        self.small = sum(len(raw) for _, raw in self.lines) <= self._FALLBACK
        self.quotes: dict[int, tuple[list[int], list[int]]] = {}

    def find(self, word: str) -> tuple[int, int] | None:
        """``(line index, offset)`` of ``word``: its next occurrence, else (short texts) its first."""
        k0, offset = self.at
        for k in range(k0, len(self.lines)):
            at = self.lines[k][1].find(word, offset if k == k0 else 0) if word else -1
            if at != -1:
                self.at = (k, at + len(word))
                return k, at
        if self.small and word:  # substituted or out of order: the first occurrence
            for k, (_, raw) in enumerate(self.lines):
                at = raw.find(word)
                if at != -1:
                    return k, at
        return None

    def line_of(self, word: str) -> int:
        found = self.find(word)
        return self.lines[found[0]][0] if found else self.default

    def unquoted(self, found: tuple[int, int] | None) -> bool:
        """Whether the word found stands outside quotes (so ``>`` in it is a shell redirection)."""
        import bisect

        if found is None:
            return False
        k, at = found
        if k not in self.quotes:
            raw = self.lines[k][1]
            self.quotes[k] = (
                [n for n, c in enumerate(raw) if c == '"'],
                [n for n, c in enumerate(raw) if c == "'"],
            )
        double, single = self.quotes[k]
        return bisect.bisect_left(double, at) % 2 == 0 and bisect.bisect_left(single, at) % 2 == 0


def parse_install_command(
    tokens: list[str],
) -> tuple[list[str], list[tuple[str, str]], list[tuple[str, str]]] | None:
    """From one tokenised shell command, the requirements, ``(kind, url)`` indexes and ``(kind, file)``
    includes of a ``pip install`` / ``python -m pip install`` / ``uv pip install``; None otherwise."""
    t = list(tokens)
    while t and (re.match(r"^[A-Za-z_]\w*=", t[0]) or t[0] in ("sudo", "exec", "command", "env")):
        t.pop(0)
    if not t:
        return None
    exe = posixpath.basename(t[0])
    rest: list[str] | None = None
    if re.fullmatch(r"pip(3(\.\d+)?)?", exe) and t[1:2] == ["install"]:
        rest = t[2:]
    elif re.fullmatch(r"python(3(\.\d+)?)?", exe) and t[1:4] == ["-m", "pip", "install"]:
        rest = t[4:]
    elif exe == "uv" and t[1:3] == ["pip", "install"]:
        rest = t[3:]
    if rest is None or "--dry-run" in rest:  # a dry run installs nothing
        return None
    reqs: list[str] = []
    indexes: list[tuple[str, str]] = []
    includes: list[tuple[str, str]] = []
    j = 0
    while j < len(rest):
        tok = rest[j]
        j += 1
        if tok.startswith("-"):
            name, value = [*tok.split("=", 1), None][:2] if tok.startswith("--") else (tok, None)
            if name is not None and not tok.startswith("--") and len(tok) > 2 and tok[:2] in _INCLUDE_OPTS:
                name, value = tok[:2], tok[2:]
            takes = name in _INDEX_OPTS or name in _INCLUDE_OPTS or name in _VALUE_OPTS
            if takes and value is None and j < len(rest):
                value = rest[j]
                j += 1
            if value is not None and name in _INDEX_OPTS:
                indexes.append((_INDEX_OPTS[name], value))
            elif value is not None and name in _INCLUDE_OPTS:
                includes.append((_INCLUDE_OPTS[name], value))
            continue
        if not _NOT_REQUIREMENT.search(tok):
            reqs.append(tok)
    return reqs, indexes, includes


def project_extras(tokens: list[str]) -> tuple[str, ...] | None:
    """The extras a command installs the project with: ``uv sync --extra cuda``, ``poetry install -E gpu``,
    ``pip install '.[gpu]'`` (``("*",)`` for ``--all-extras``); None when it installs no project."""
    t = [w for w in tokens if not re.match(r"^[A-Za-z_]\w*=", w)]
    if not t:
        return None
    exe = posixpath.basename(t[0])
    words = t[1:]
    project = (exe == "uv" and words[:1] == ["sync"]) or (exe == "poetry" and words[:1] == ["install"])
    project = project or (exe in ("pdm", "hatch") and words[:1] in (["install"], ["sync"]))
    extras: list[str] = []
    for i, w in enumerate(words):
        m = re.match(r"^(?:\.|\.\/|/[\w/.\-]*)?\[([\w,\s.\-]+)\]$", w)
        if m and parse_install_command(t) is not None:
            project = True
            extras.extend(x.strip() for x in m.group(1).split(","))
        elif w in ("--extra", "--extras", "-E") and i + 1 < len(words):
            extras.extend(words[i + 1].replace(",", " ").split())
        elif w.startswith(("--extra=", "--extras=")):
            extras.extend(w.split("=", 1)[1].replace(",", " ").split())
        elif w == "--all-extras":
            extras.append("*")
    if not project and parse_install_command(t) is not None and any(w in (".", "./", "-e") for w in words):
        project = True
    return tuple(dict.fromkeys(extras)) if project else None


def _copy_sources(args: str) -> tuple[list[str], str] | None:
    try:
        words = shellwords.split(args)
    except ValueError:
        return None
    if any(w.startswith("--from") for w in words):
        return None
    words = [w for w in words if not w.startswith("--")]
    if words[:1] and words[0].startswith("["):  # JSON form
        import json

        try:
            words = [str(w) for w in json.loads(args)]
        except (ValueError, TypeError, RecursionError):
            return None
    if len(words) < 2:
        return None
    return words[:-1], words[-1]


def parse_dockerfile(path: str, text: str, build_args: Mapping[str, str] | None = None) -> SourceFile:
    """Parse a Dockerfile; ``build_args`` are ``--build-arg`` values (compose ``build.args``)."""
    overrides = dict(build_args or {})
    global_args: dict[str, str | None] = {}
    stage_vars: dict[str, str | None] = {}
    stage_bases: dict[str, str] = {}
    images: list[ImageRef] = []
    env: list[EnvVar] = []
    reqs: list[Declared] = []
    indexes: list[IndexRef] = []
    includes: list[Include] = []
    problems: list[Problem] = []
    notes: list[str] = []
    workdir = "/"
    copies: list[tuple[str, str]] = []  # (destination in the image, source in the context)
    seen_from = False
    extras: tuple[str, ...] | None = None
    system: list[str] = []
    stages = _Stages()
    installs = 0  # install commands so far: each is a resolver run of its own
    for instr in _instructions(text):
        loc = Location(path, instr.line)
        kw = instr.keyword
        if kw == "ARG":
            for word in instr.args.split():
                name, eq, default = word.partition("=")
                value = overrides.get(name, default.strip("\"'") if eq else None)
                if not seen_from:
                    global_args[name] = value
                else:
                    stage_vars[name] = value if (eq or name in overrides) else global_args.get(name)
        elif kw == "FROM":
            seen_from = True
            words = [w for w in instr.args.split() if not w.startswith("--")]
            if not words:
                problems.append(Problem(loc, "FROM without an image"))
                continue
            ref, missing = substitute(words[0], global_args)
            stage = words[2] if len(words) >= 3 and words[1].lower() == "as" else None
            base = stage_bases.get(ref.lower(), ref)
            if stage:
                stage_bases[stage.lower()] = base
            stage_vars = {}
            workdir, copies = "/", []
            image = (
                ImageRef(base, loc, stage=stage, unresolved=missing) if base.lower() != "scratch" else None
            )
            if image is not None:
                images.append(image)
            stages.start(stage, ref, image)
        elif kw == "ENV":
            for name, value in _env_pairs(instr.args):
                value, _ = substitute(value, {**global_args, **stage_vars})
                stage_vars[name] = value
                env.append(EnvVar(name, value, loc))
                if name in INDEX_ENV and value:
                    for url in value.split():
                        indexes.append(IndexRef(url, INDEX_ENV[name], loc))
                        stages.index(indexes[-1])
        elif kw == "WORKDIR":
            wd, _ = substitute(instr.args.strip().strip("\"'"), stage_vars)
            workdir = posixpath.normpath(posixpath.join(workdir, wd))
        elif kw in ("COPY", "ADD"):
            source_stage = re.search(r"--from=(\S+)", instr.args)
            if source_stage:
                stages.copy_from(source_stage.group(1).strip("\"'"))
            parsed = _copy_sources(instr.args)
            if parsed:
                sources, dest = parsed
                dest_abs = posixpath.normpath(posixpath.join(workdir, dest))
                for src in sources:
                    copies.append((dest_abs, src))
        elif kw == "RUN":
            shell = _run_command(instr.args) + "\n" + "\n".join(body for _, body in instr.heredoc)
            shell, _ = substitute(shell, {k: v for k, v in {**global_args, **stage_vars}.items() if v})
            finder = _Finder(instr)
            cwd = workdir  # `cd dir && …` moves the commands after it
            for command in _SHELL_SPLIT.split(shell):
                try:
                    tokens = shellwords.split(command, comments=True)
                except ValueError:
                    tokens = command.split()
                if tokens[:1] == ["cd"] and len(tokens) == 2:
                    cwd = posixpath.normpath(posixpath.join(cwd, tokens[1]))
                    continue
                system.extend(_system_packages(tokens))
                variables = {**global_args, **stage_vars}
                build = _build_command(tokens, variables)
                if build is not None:
                    stages.build(Location(path, finder.line_of(build[0].split()[-1])), *build)
                make = _make_call(tokens, cwd, copies, variables)
                if make is not None:
                    text = " ".join(["make", *make.targets])
                    stages.build(Location(path, finder.line_of("make")), text, False, make)
                selected = project_extras(tokens)
                if selected is not None:
                    extras = (*(extras or ()), *selected)
                found = parse_install_command(tokens)
                if found is None:
                    conda = _conda_packages(tokens)
                    if not conda:
                        continue
                    found = (conda, [], [])
                installs += 1
                words, idx, inc = found
                for word in words:
                    where = finder.find(word)
                    line = finder.lines[where[0]][0] if where else finder.default
                    if _REDIRECT.search(word) and finder.unquoted(where):
                        name = re.split(r"[<>]", word, maxsplit=1)[0]
                        notes.append(
                            f"{path}:{line}: {word} is not quoted: the shell reads '>'/'<' as a redirection "
                            f'and pip installs plain {name} (quote it: "{word}")'
                        )
                        word = name
                    result = declared(word, Location(path, line))
                    if isinstance(result, Declared):
                        result = replace(result, install=installs)
                        reqs.append(result)
                        stages.requirement(result)
                    elif isinstance(result, Problem):
                        notes.append(f"{path}:{line}: {result.message}")
                for kind, url in idx:
                    indexes.append(IndexRef(url, kind, Location(path, finder.line_of(url))))
                    stages.index(indexes[-1])
                for kind, file in inc:
                    source = _map_to_context(file, cwd, copies)
                    includes.append(Include(source, kind, Location(path, finder.line_of(file)), installs))
    if images:
        images[-1] = ImageRef(
            images[-1].reference, images[-1].location, images[-1].stage, images[-1].unresolved, final=True
        )
    return SourceFile(
        path,
        "dockerfile",
        requirements=tuple(reqs),
        indexes=tuple(indexes),
        images=tuple(images),
        env=tuple(env),
        includes=tuple(includes),
        problems=tuple(problems),
        notes=tuple(notes),
        extras=tuple(dict.fromkeys(extras)) if extras is not None else None,
        system_packages=tuple(dict.fromkeys(system)),
        builds=stages.builds(),
    )


class _Stages:
    """The stages of one Dockerfile: what each builds on (``FROM <stage>``) and copies from
    (``COPY --from=<stage>``), the torch and indexes each installs, and the CUDA builds each runs."""

    def __init__(self) -> None:
        self.names: list[str | None] = []
        self.images: list[ImageRef | None] = []
        self.parent: list[int | None] = []
        self.copies: list[set[int]] = []
        self.torch: list[list[Declared]] = []
        self.indexes: list[list[IndexRef]] = []
        self.steps: list[tuple[int, BuildStep]] = []

    def _find(self, ref: str) -> int | None:
        key = ref.lower()
        for i, name in enumerate(self.names):
            if name is not None and name.lower() == key:
                return i
        return int(key) if key.isdigit() and int(key) < len(self.names) else None

    def start(self, name: str | None, ref: str, image: ImageRef | None) -> None:
        self.parent.append(self._find(ref))
        self.names.append(name)
        self.images.append(image)
        self.copies.append(set())
        self.torch.append([])
        self.indexes.append([])

    def copy_from(self, ref: str) -> None:
        found = self._find(ref)
        if self.names and found is not None:
            self.copies[-1].add(found)

    def requirement(self, d: Declared) -> None:
        if self.names and d.name == "torch":
            self.torch[-1].append(d)

    def index(self, ref: IndexRef) -> None:
        if self.names:
            self.indexes[-1].append(ref)

    def _chain(self, i: int) -> list[int]:
        out = [i]
        while (p := self.parent[out[-1]]) is not None and p not in out:
            out.append(p)
        return out

    def build(self, location: Location, command: str, by_name: bool, make: MakeCall | None = None) -> None:
        if not self.names:
            return
        i = len(self.names) - 1
        chain = self._chain(i)
        name = self.names[i] or f"#{i}"
        self.steps.append(
            (
                i,
                BuildStep(
                    location,
                    command,
                    name,
                    self.images[i],
                    torch=tuple(d for s in reversed(chain) for d in self.torch[s]),
                    indexes=tuple(x for s in reversed(chain) for x in self.indexes[s]),
                    by_name=by_name,
                    make=make,
                ),
            )
        )

    def builds(self) -> tuple[BuildStep, ...]:
        if not self.steps:
            return ()
        final = len(self.names) - 1
        in_final = set(self._chain(final))
        reached: set[int] = set()
        todo = [final]
        while todo:
            i = todo.pop()
            if i in reached:
                continue
            reached.add(i)
            todo.extend(self._chain(i)[1:])
            todo.extend(self.copies[i])
        return tuple(replace(b, final_stage=i in in_final, reached=i in reached) for i, b in self.steps)


def build_command(tokens: list[str], arch_list: bool) -> tuple[str, bool] | None:
    """Whether one shell command compiles a CUDA extension (see :func:`_build_command`), with
    ``TORCH_CUDA_ARCH_LIST`` set around it or not: (the command, short; whether it installs by name)."""
    return _build_command(tokens, {"TORCH_CUDA_ARCH_LIST": "1"} if arch_list else {})


_SETUP_BUILD = ("build_ext", "install", "develop", "bdist_wheel", "build")


def _build_command(tokens: list[str], variables: Mapping[str, str | None]) -> tuple[str, bool] | None:
    """Whether one shell command compiles a CUDA extension against the installed torch: ``python
    setup.py build_ext|install|develop|bdist_wheel``, or a ``pip install`` that builds without isolation
    (``--no-build-isolation``) or with ``TORCH_CUDA_ARCH_LIST`` set (in the command or the stage) from a
    source tree or VCS. Returns (the command, short; whether it installs a package by name)."""
    t = list(tokens)
    arch = bool(variables.get("TORCH_CUDA_ARCH_LIST"))
    while t and re.match(r"^[A-Za-z_]\w*=", t[0]):
        arch = arch or t[0].startswith("TORCH_CUDA_ARCH_LIST=")
        t.pop(0)
    if not t:
        return None
    exe = posixpath.basename(t[0])
    if re.fullmatch(r"python(3(\.\d+)?)?", exe) and len(t) >= 3 and t[1].endswith("setup.py"):
        if any(w in _SETUP_BUILD for w in t[2:]):
            return " ".join(t[:3]), False
        return None
    found = parse_install_command(t)
    if found is None:
        return None
    isolated = "--no-build-isolation" not in t
    if isolated and not arch:
        return None
    sources = [w for w in t[1:] if w in (".", "./") or w.startswith(("./", "/", "git+", "../"))]
    sources = [w for w in sources if not w.endswith((".whl", ".txt"))]
    if sources:
        return f"{' '.join(t[:2])} {sources[0]}" + (" --no-build-isolation" if not isolated else ""), False
    named = [w for w in found[0] if not w.startswith("-")]
    if named and not isolated:
        return f"{' '.join(t[:2])} {named[0]} --no-build-isolation", True
    return None


def _make_call(
    tokens: list[str], cwd: str, copies: list[tuple[str, str]], variables: Mapping[str, str | None]
) -> MakeCall | None:
    """A ``make [-C DIR] [-f FILE] [VAR=value] TARGET…`` command: the Makefile it reads (mapped back to
    the build context through ``COPY``) and its targets; None for any other command."""
    t = list(tokens)
    arch = bool(variables.get("TORCH_CUDA_ARCH_LIST"))
    while t and re.match(r"^[A-Za-z_]\w*=", t[0]):
        arch = arch or t[0].startswith("TORCH_CUDA_ARCH_LIST=")
        t.pop(0)
    if not t or posixpath.basename(t[0]) not in ("make", "gmake"):
        return None
    folder, file, targets = cwd, None, []
    j = 1
    while j < len(t):
        word = t[j]
        j += 1
        if word in ("-C", "--directory", "-f", "--file", "--makefile", "-j", "--jobs", "-l", "-o", "-W"):
            value = t[j] if j < len(t) else ""
            if word == "-j" and not value.isdigit():
                continue  # `-j` alone: as many jobs as it likes
            j += 1
            if word in ("-C", "--directory"):
                folder = posixpath.normpath(posixpath.join(folder, value))
            elif word in ("-f", "--file", "--makefile"):
                file = value
            continue
        if word.startswith("-C") and len(word) > 2:
            folder = posixpath.normpath(posixpath.join(folder, word[2:]))
        elif word.startswith(("--directory=", "--file=", "--makefile=")):
            key, _, value = word.partition("=")
            if key == "--directory":
                folder = posixpath.normpath(posixpath.join(folder, value))
            else:
                file = value
        elif word.startswith("-f") and len(word) > 2:
            file = word[2:]
        elif word.startswith("-"):
            continue
        elif "=" in word:
            arch = arch or word.startswith("TORCH_CUDA_ARCH_LIST=")
        else:
            targets.append(word)
    inside = posixpath.normpath(posixpath.join(folder, file or "Makefile"))
    source = _copied_from(inside, copies)
    return MakeCall(source, tuple(targets), arch) if source is not None else None


_RUN_FLAG = re.compile(r"^--(?:mount|network|security|device)=\S*\s*")


def _run_command(args: str) -> str:
    """A RUN's shell command: BuildKit flags (``--mount=type=cache,…``) dropped, the exec form
    (``["pip", "install", "torch"]``) joined into one command line."""
    text = args.lstrip()
    while text.startswith("--"):
        m = _RUN_FLAG.match(text)
        if m is None:
            break
        text = text[m.end() :]
    if text.startswith("["):
        import json
        import shlex

        try:
            words = json.loads(text)
        except (ValueError, RecursionError):
            return text
        if isinstance(words, list) and all(isinstance(w, str) for w in words):
            if len(words) >= 3 and words[0].endswith("sh") and words[1] == "-c":
                return str(words[2])
            return " ".join(shlex.quote(w) for w in words)
    return text


def _conda_packages(tokens: list[str]) -> list[str]:
    """Packages of a ``conda``/``mamba``/``micromamba install`` (``pytorch=2.1``, ``pytorch-cuda=12.1``),
    as PEP 508 text (``torch==2.1``): scan judges the torch a conda install brings like a pip one."""
    t = [w for w in tokens if w not in ("sudo",)]
    if len(t) < 2 or posixpath.basename(t[0]) not in ("conda", "mamba", "micromamba") or t[1] != "install":
        return []
    out: list[str] = []
    skip = False
    for w in t[2:]:
        if skip:
            skip = False
            continue
        if w in ("-c", "--channel", "-n", "--name", "-p", "--prefix"):
            skip = True
            continue
        if w.startswith("-") or ("::" in w and not re.match(r"^[\w.-]+::[\w.-]+", w)):
            continue
        w = w.split("::", 1)[-1]
        m = re.match(r"^([A-Za-z0-9][\w.\-]*)(?:(==|=|>=|<=)([\w.*]+))?", w)
        if not m:
            continue
        name, op, version = m.groups()
        if name == "pytorch":
            name = "torch"
        if op and version:
            op = "==" if op in ("=", "==") else op
            out.append(f"{name}{op}{version}")
        else:
            out.append(name)
    return out


def _system_packages(tokens: list[str]) -> list[str]:
    """Packages of an ``apt-get``/``apt``/``dnf``/``yum``/``microdnf`` install command."""
    t = [w for w in tokens if w not in ("sudo", "-y", "-qq", "-q")]
    if len(t) < 2 or posixpath.basename(t[0]) not in ("apt-get", "apt", "dnf", "yum", "microdnf"):
        return []
    if "install" not in t:
        return []
    words = t[t.index("install") + 1 :]
    return [w.split("=", 1)[0] for w in words if not w.startswith("-") and re.match(r"^[\w.+\-]+(=.*)?$", w)]


def _env_pairs(args: str) -> list[tuple[str, str]]:
    try:
        words = shellwords.split(args)
    except ValueError:
        words = args.split()
    if not words:
        return []
    if "=" not in words[0]:  # legacy form: ENV NAME value with spaces
        return [(words[0], " ".join(words[1:]))]
    return [(w.split("=", 1)[0], w.split("=", 1)[1]) for w in words if "=" in w]


def _map_to_context(file: str, workdir: str, copies: list[tuple[str, str]]) -> str:
    """The build-context path a ``-r`` file inside the image came from, via ``COPY``; else as written."""
    found = _copied_from(posixpath.normpath(posixpath.join(workdir, file)), copies)
    if found is not None:
        return found
    return posixpath.normpath(file.lstrip("/")) if not file.startswith("/") else posixpath.basename(file)


def _copied_from(target: str, copies: list[tuple[str, str]]) -> str | None:
    """The build-context path an absolute path inside the image was copied from (the last ``COPY`` that
    wrote it, as a file or inside a folder); None when no ``COPY`` of the stage wrote it."""
    copies = [(dest, src) for dest, src in copies if "://" not in src]  # ADD URL: not from the context
    for dest, src in reversed(copies):
        if target in (dest, posixpath.join(dest, posixpath.basename(src.rstrip("/")))):
            return posixpath.normpath(src)
    for dest, src in reversed(copies):
        name = posixpath.basename(src.rstrip("/"))
        folder = src in (".", "./") or src.endswith("/") or "." not in name
        if folder and target.startswith(dest.rstrip("/") + "/"):
            return posixpath.normpath(posixpath.join(src, target[len(dest.rstrip("/")) + 1 :]))
    return None
