"""Python source and equation strings into cubie's expression language.

The original reads an ODE function's source with ``ast`` and never calls
it; so does this module. ``function_equations`` turns
``f(t, y, p)`` / ``f(t, y, a, b, ...)`` into the equations of a JSON
spec; ``string_equations`` does the same for ``"dx = ..."`` lines. Both
write the right-hand sides in cubie's syntax (``^`` for powers,
``c ? a : b``, ``&&``), so the C parser checks every name and reports
columns in that text.
"""

import ast
import inspect
import textwrap
import warnings

__all__ = ["function_equations", "string_equations", "EquationWarning"]


class EquationWarning(UserWarning):
    """A name was inferred (a parameter nobody declared)."""


# Python (math, numpy, SymPy) function names -> cubie's, with arity.
_FUNCTIONS = {
    "exp": "exp", "log": "log", "sqrt": "sqrt", "pow": "pow", "sin": "sin",
    "cos": "cos", "tan": "tan", "asin": "asin", "arcsin": "asin",
    "acos": "acos", "arccos": "acos", "atan": "atan", "arctan": "atan",
    "atan2": "atan2", "arctan2": "atan2", "sinh": "sinh", "cosh": "cosh",
    "tanh": "tanh", "erf": "erf", "abs": "abs", "Abs": "abs", "fabs": "abs",
    "absolute": "abs", "min": "min", "Min": "min", "fmin": "min",
    "minimum": "min", "max": "max", "Max": "max", "fmax": "max",
    "maximum": "max", "floor": "floor", "ceil": "ceil", "ceiling": "ceil",
    "sign": "sign", "where": "where", "power": "pow",
}
_CONSTANTS = {"pi": "3.141592653589793", "e": "2.718281828459045"}
_MODULES = ("math", "np", "numpy", "cmath")
_CMP = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
        ast.Eq: "==", ast.NotEq: "!="}
_BIN = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/",
        ast.Pow: "^"}
_REJECTED = {
    ast.While: "While-loops are not supported in ODE functions. Use a "
               "for-loop with a constant iterable instead.",
    ast.Try: "try/except is not supported in ODE functions.",
    ast.With: "The 'with' statement is not supported in ODE functions.",
    ast.FunctionDef: "Nested function definitions are not supported in ODE "
                     "functions.",
    ast.AsyncFunctionDef: "Async functions are not supported in ODE "
                          "functions.",
    ast.ClassDef: "Class definitions are not supported in ODE functions.",
    ast.Delete: "The 'del' statement is not supported in ODE functions.",
    ast.Assert: "The 'assert' statement is not supported in ODE functions.",
    ast.Raise: "The 'raise' statement is not supported in ODE functions.",
    ast.Global: "The 'global' statement is not supported in ODE functions. "
                "Pass values as constants instead.",
    ast.Nonlocal: "The 'nonlocal' statement is not supported in ODE "
                  "functions.",
    ast.ListComp: "List comprehensions are not supported in ODE functions. "
                  "Use a for-loop with a constant iterable instead.",
    ast.SetComp: "Set comprehensions are not supported in ODE functions.",
    ast.DictComp: "Dict comprehensions are not supported in ODE functions.",
    ast.GeneratorExp: "Generator expressions are not supported in ODE "
                      "functions. Use a for-loop with a constant iterable "
                      "instead.",
    ast.Lambda: "Lambda expressions are not supported in ODE functions.",
}
if hasattr(ast, "Match"):
    _REJECTED[ast.Match] = ("match statements are not supported in ODE "
                            "functions. Use if/elif/else instead.")


class _Where:
    """Where a node is, for messages: 'line 3 of lotka_volterra'."""

    def __init__(self, name, first_line):
        self.name = name
        self.first_line = first_line

    def __call__(self, node):
        line = getattr(node, "lineno", None)
        if line is None:
            return "in %s" % self.name
        return "at line %d of %s" % (line + self.first_line - 1, self.name)


def _fail(cls, msg, where, node):
    raise cls("%s (%s)" % (msg, where(node)))


def _num(value):
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    return None


class _Translator:
    """Expressions of one function or one equation into cubie text.

    names(node) -> text resolves a Name, Attribute or Subscript; locals
    maps a local variable to its current text."""

    def __init__(self, resolve, where):
        self.resolve = resolve
        self.where = where
        self.locals = {}

    def const_int(self, node):
        """The integer a subscript or range() argument stands for, or
        None."""
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            v = self.const_int(node.operand)
            return None if v is None else -v
        if isinstance(node, ast.Name) and node.id in self.locals:
            text = self.locals[node.id]
            try:
                return int(text)
            except ValueError:
                return None
        if isinstance(node, ast.BinOp) and type(node.op) in (
                ast.Add, ast.Sub, ast.Mult):
            a, b = self.const_int(node.left), self.const_int(node.right)
            if a is None or b is None:
                return None
            return {ast.Add: a + b, ast.Sub: a - b,
                    ast.Mult: a * b}[type(node.op)]
        return None

    def expr(self, node):
        w = self.where
        if isinstance(node, ast.Constant):
            text = _num(node.value)
            if text is None:
                _fail(NotImplementedError, "Unsupported constant type: %s"
                      % type(node.value).__name__, w, node)
            return text
        if isinstance(node, (ast.Name, ast.Attribute, ast.Subscript)):
            if isinstance(node, ast.Name) and node.id in self.locals:
                return self.locals[node.id]
            if (isinstance(node, ast.Attribute)
                    and isinstance(node.value, ast.Name)
                    and node.value.id in _MODULES
                    and node.attr in _CONSTANTS):
                return _CONSTANTS[node.attr]
            return self.resolve(node)
        if isinstance(node, ast.BinOp):
            a, b = self.expr(node.left), self.expr(node.right)
            op = type(node.op)
            if op in _BIN:
                return "(%s %s %s)" % (a, _BIN[op], b)
            if op is ast.FloorDiv:
                return "floor(%s / %s)" % (a, b)
            if op is ast.Mod:  # Python's: the sign of b
                return "(%s - %s * floor(%s / %s))" % (a, b, a, b)
            _fail(NotImplementedError, "Unsupported operator: %s"
                  % op.__name__, w, node)
        if isinstance(node, ast.UnaryOp):
            a = self.expr(node.operand)
            if isinstance(node.op, ast.USub):
                return "(-%s)" % a
            if isinstance(node.op, ast.UAdd):
                return a
            if isinstance(node.op, ast.Not):
                return "(!%s)" % a
            _fail(NotImplementedError, "Unsupported operator: %s"
                  % type(node.op).__name__, w, node)
        if isinstance(node, ast.Compare):
            parts, left = [], node.left
            for op, right in zip(node.ops, node.comparators):
                if type(op) not in _CMP:
                    _fail(NotImplementedError, "Unsupported comparison: %s"
                          % type(op).__name__, w, node)
                parts.append("(%s %s %s)" % (self.expr(left), _CMP[type(op)],
                                             self.expr(right)))
                left = right
            return parts[0] if len(parts) == 1 else \
                "(%s)" % " && ".join(parts)
        if isinstance(node, ast.BoolOp):
            op = " && " if isinstance(node.op, ast.And) else " || "
            return "(%s)" % op.join(self.expr(v) for v in node.values)
        if isinstance(node, ast.IfExp):
            return "(%s ? %s : %s)" % (self.expr(node.test),
                                       self.expr(node.body),
                                       self.expr(node.orelse))
        if isinstance(node, ast.Call):
            return self.call(node)
        if type(node) in _REJECTED:
            _fail(NotImplementedError, _REJECTED[type(node)], w, node)
        _fail(NotImplementedError,
              "Unsupported AST node type: %s. Only arithmetic, function "
              "calls, comparisons, and ternary if/else are supported."
              % type(node).__name__, w, node)

    def call(self, node):
        f = node.func
        if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) \
                and f.value.id in _MODULES:
            raw = f.attr
        elif isinstance(f, ast.Name):
            raw = f.id
        else:
            raw = ast.unparse(f)
        if node.keywords:
            _fail(NotImplementedError, "Keyword arguments in a call to "
                  "'%s' are not supported" % raw, self.where, node)
        args = [self.expr(a) for a in node.args]
        if raw == "erfc" and len(args) == 1:
            return "(1 - erf(%s))" % args[0]
        if raw == "square" and len(args) == 1:
            return "(%s ^ 2)" % args[0]
        name = _FUNCTIONS.get(raw)
        if name is None:
            _fail(NotImplementedError,
                  "Unknown function '%s'. Supported: %s" %
                  (raw, ", ".join(sorted(set(_FUNCTIONS) | {"erfc"}))),
                  self.where, node)
        if name in ("min", "max") and len(args) > 2:
            text = args[0]
            for a in args[1:]:
                text = "%s(%s, %s)" % (name, text, a)
            return text
        return "%s(%s)" % (name, ", ".join(args))


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def _assigned_names(stmts):
    out = []
    for s in stmts:
        for node in ast.walk(s):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                if node.id not in out:
                    out.append(node.id)
    return out


class _Body:
    """The statements of a function, executed symbolically: every
    assignment becomes an auxiliary equation (so expressions never grow
    by substitution), if/else merges into ternaries, for loops unroll."""

    def __init__(self, tr, reserved):
        self.tr = tr
        self.equations = []
        self.reserved = set(reserved)
        self.count = {}

    def bind(self, name, text):
        """name = text: a new auxiliary unless text is a plain symbol or
        a number."""
        if text.isidentifier() or _is_number(text):
            self.tr.locals[name] = text
            return
        k = self.count.get(name, 0) + 1
        aux = "%s_%d" % (name, k)
        while aux in self.reserved:
            k += 1
            aux = "%s_%d" % (name, k)
        self.count[name] = k
        self.reserved.add(aux)
        self.equations.append("%s = %s" % (aux, text))
        self.tr.locals[name] = aux

    def target(self, t, text, node):
        w = self.tr.where
        if isinstance(t, ast.Name):
            self.bind(t.id, text)
            return
        _fail(NotImplementedError, "Only assignments to plain names are "
              "supported, not '%s'" % ast.unparse(t), w, node)

    def run(self, stmts, returns):
        w = self.tr.where
        for s in stmts:
            if isinstance(s, ast.Return):
                returns.append(s)
                continue
            if isinstance(s, (ast.Import, ast.ImportFrom, ast.Pass)):
                continue
            if isinstance(s, ast.Expr):  # docstrings, bare calls
                continue
            if isinstance(s, ast.Assign):
                for t in s.targets:
                    if isinstance(t, ast.Tuple):
                        if not isinstance(s.value, ast.Tuple) or \
                                len(s.value.elts) != len(t.elts):
                            _fail(ValueError, "Tuple unpacking length "
                                  "mismatch", w, s)
                        texts = [self.tr.expr(v) for v in s.value.elts]
                        for tt, text in zip(t.elts, texts):
                            self.target(tt, text, s)
                    else:
                        self.target(t, self.tr.expr(s.value), s)
                continue
            if isinstance(s, ast.AnnAssign):
                if s.value is not None:
                    self.target(s.target, self.tr.expr(s.value), s)
                continue
            if isinstance(s, ast.AugAssign):
                if not isinstance(s.target, ast.Name) or \
                        s.target.id not in self.tr.locals:
                    _fail(ValueError, "Augmented assignment to '%s' with no "
                          "prior assignment" % ast.unparse(s.target), w, s)
                value = ast.BinOp(left=ast.Name(id=s.target.id,
                                                ctx=ast.Load()),
                                  op=s.op, right=s.value)
                ast.copy_location(value, s)
                self.target(s.target, self.tr.expr(value), s)
                continue
            if isinstance(s, ast.If):
                self.branch(s, returns)
                continue
            if isinstance(s, ast.For):
                self.loop(s, returns)
                continue
            msg = _REJECTED.get(type(s), "'%s' statements are not supported "
                                "in ODE functions." % type(s).__name__)
            _fail(NotImplementedError, msg, w, s)

    def branch(self, s, returns):
        w = self.tr.where
        for sub in ast.walk(s):
            if isinstance(sub, ast.Return):
                _fail(NotImplementedError, "'return' inside an if/elif/else "
                      "branch is not supported in ODE functions. Assign the "
                      "branch result to a variable and return once at the "
                      "end of the function.", w, sub)
        cond = self.tr.expr(s.test)
        before = dict(self.tr.locals)
        self.run(s.body, returns)
        after_if = dict(self.tr.locals)
        self.tr.locals = dict(before)
        self.run(s.orelse, returns)
        after_else = dict(self.tr.locals)
        self.tr.locals = dict(before)
        for name in _assigned_names(s.body + s.orelse):
            a, b = after_if.get(name), after_else.get(name)
            if a is None or b is None:
                _fail(ValueError, "Variable '%s' assigned in if-branch but "
                      "has no prior value and no else-branch. Add an else "
                      "clause or a default assignment before the if "
                      "statement." % name, w, s)
            self.bind(name, a if a == b else "(%s ? %s : %s)" % (cond, a, b))

    def loop(self, s, returns):
        w = self.tr.where
        if s.orelse:
            _fail(NotImplementedError, "for/else is not supported in ODE "
                  "functions.", w, s)
        if not isinstance(s.target, ast.Name):
            _fail(NotImplementedError, "Only simple loop variables are "
                  "supported (e.g. 'for i in ...'). Tuple unpacking in "
                  "for-loops is not supported.", w, s)
        it = s.iter
        values = None
        if isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and \
                it.func.id == "range":
            args = [self.tr.const_int(a) for a in it.args]
            if None in args or not 1 <= len(args) <= 3:
                _fail(NotImplementedError, "for-loop range() arguments must "
                      "be integer literals. Use a literal list or tuple, or "
                      "pass iteration bounds as constants.", w, s)
            values = [str(v) for v in range(*args)]
        elif isinstance(it, (ast.List, ast.Tuple)):
            values = [self.tr.expr(e) for e in it.elts]
        elif isinstance(it, ast.Name):
            _fail(NotImplementedError, "for-loop over variable '%s' is not "
                  "supported. Use a literal iterable: range(), list, or "
                  "tuple." % it.id, w, s)
        else:
            _fail(NotImplementedError, "for-loop iterable must be range(), "
                  "a literal list, or a literal tuple", w, s)
        for v in values:
            self.tr.locals[s.target.id] = v
            self.run(s.body, returns)


def _source_of(func):
    if not callable(func):
        raise TypeError("Expected callable, got %s" % type(func).__name__)
    if getattr(func, "__name__", "") == "<lambda>":
        raise TypeError("Lambda functions are not supported. Use a named "
                        "function with a def statement.")
    try:
        lines, first = inspect.getsourcelines(func)
    except (OSError, TypeError):
        raise TypeError("Cannot inspect source of builtin or C-extension "
                        "functions. Use a pure Python function.") from None
    tree = ast.parse(textwrap.dedent("".join(lines)))
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if isinstance(node, ast.AsyncFunctionDef):
                raise NotImplementedError("Async functions are not "
                                          "supported in ODE functions.")
            return node, max(first, 1)
    raise TypeError("No function definition found in the source of %r"
                    % func)


def function_equations(func, states, parameters, constants, observables,
                       drivers):
    """(equations, states, parameters) for an ODE function.

    states, parameters, constants: dicts name -> default, or None for
    states (then inferred from the function as the original does);
    drivers, observables: lists of names. Parameters nobody declared are
    added (default 0.0) with an EquationWarning, as the original does.
    """
    fdef, first = _source_of(func)
    where = _Where(fdef.name, first)
    args = [a.arg for a in fdef.args.posonlyargs + fdef.args.args]
    if len(args) < 2:
        raise ValueError("ODE function must accept at least 2 parameters "
                         "(time, state), got %d: %s" % (len(args), args))
    t_arg, y_arg, extra = args[0], args[1], args[2:]
    returns = [n for n in ast.walk(fdef) if isinstance(n, ast.Return)]
    if not returns:
        raise ValueError("ODE function must contain a return statement")
    if len(returns) > 1:
        top = [s for s in fdef.body if isinstance(s, ast.Return)]
        if len(top) != len(returns):
            _fail(NotImplementedError, "'return' inside an if/elif/else "
                  "branch is not supported in ODE functions. Assign the "
                  "branch result to a variable and return once at the end "
                  "of the function.", where,
                  [r for r in returns if r not in top][0])
        raise ValueError("ODE function must contain exactly one return "
                         "statement, found %d" % len(returns))
    ret = returns[0].value
    parameters = dict(parameters or {})
    constants = dict(constants or {})
    drivers = list(drivers or [])
    observables = list(observables or [])
    containers = set()
    for node in ast.walk(fdef):
        if isinstance(node, (ast.Attribute, ast.Subscript)) and \
                isinstance(node.value, ast.Name) and node.value.id in extra:
            containers.add(node.value.id)
    if states is None:
        states = _infer_states(ret, y_arg, fdef, where)
    state_names = list(states)
    pools = [("parameter", list(parameters)), ("constant", list(constants)),
             ("driver", drivers)]
    inferred = []

    def declared(name):
        return name in parameters or name in constants or name in drivers

    def infer(name, how, node):
        if name in state_names:
            _fail(ValueError, "'%s' is a state but was accessed as '%s'. "
                  "Access states through the state argument: '%s.%s'."
                  % (name, how, y_arg, name), where, node)
        if name in observables:
            _fail(ValueError, "'%s' is an observable but was accessed as "
                  "'%s'." % (name, how), where, node)
        if not declared(name):
            parameters[name] = 0.0
            inferred.append(name)
            warnings.warn("Container access '%s' does not match any declared "
                          "parameter, constant, or driver; '%s' was added as "
                          "a parameter with a default value of 0.0."
                          % (how, name), EquationWarning, stacklevel=4)
        return name

    patterns = {}

    def note_pattern(base, kind, node):
        patterns.setdefault(base, set()).add(kind)
        if len(patterns[base]) > 1:
            _fail(ValueError, "Mixed access patterns on '%s': %s. Use a "
                  "single pattern (int subscript, string subscript, or "
                  "attribute access)." % (base, sorted(patterns[base])),
                  where, node)

    tr = None

    def resolve(node):
        if isinstance(node, ast.Name):
            if node.id == t_arg:
                return "t"
            if node.id in extra and node.id not in containers:
                return infer(node.id, node.id, node) \
                    if not declared(node.id) else node.id
            if node.id in observables:
                _fail(ValueError, "Observable '%s' is read before it is "
                      "assigned" % node.id, where, node)
            if declared(node.id) or node.id in state_names:
                _fail(ValueError, "Symbol '%s' is declared but cannot be "
                      "referenced by bare name inside an ODE function. "
                      "Access it through its container argument." % node.id,
                      where, node)
            _fail(ValueError, "Unknown symbol '%s' in ODE function body. "
                  "Names must resolve to the time argument, a container "
                  "access on the state or parameter arguments, a local "
                  "assignment, or a declared observable. Declare '%s' as a "
                  "parameter, constant, or driver and access it through a "
                  "container argument." % (node.id, node.id), where, node)
        base = node.value
        if not isinstance(base, ast.Name) or base.id not in [y_arg] + extra:
            _fail(NotImplementedError, "Unsupported access '%s': only the "
                  "state and parameter arguments can be indexed"
                  % ast.unparse(node), where, node)
        how = ast.unparse(node)
        if isinstance(node, ast.Attribute):
            kind, key = "attribute", node.attr
        else:
            sl = node.slice
            if isinstance(sl, ast.Constant) and isinstance(sl.value, str):
                kind, key = "string", sl.value
            else:
                idx = tr.const_int(sl)
                if idx is None:
                    _fail(NotImplementedError, "Subscript '%s' must be a "
                          "constant integer or string" % how, where, node)
                kind, key = "int", idx
        note_pattern(base.id, kind, node)
        if base.id == y_arg:
            if kind == "int":
                if not 0 <= key < len(state_names):
                    _fail(ValueError, "State access '%s' is out of range: "
                          "the system has %d states: %s" %
                          (how, len(state_names), state_names), where, node)
                return state_names[key]
            if key not in state_names:
                _fail(ValueError, "Unknown state '%s' accessed as '%s'. "
                      "Declared states: %s" % (key, how, state_names),
                      where, node)
            return key
        if kind == "int":
            for _, names in pools:
                if key < len(names):
                    return names[key]
            _fail(ValueError, "Container access '%s' is out of range for "
                  "the declared parameters (%s), constants (%s), and drivers "
                  "(%s)." % (how, list(parameters), list(constants), drivers),
                  where, node)
        return infer(key, how, node)

    tr = _Translator(resolve, where)
    reserved = set(state_names) | set(parameters) | set(constants) | \
        set(drivers) | set(observables) | {"d" + s for s in state_names}
    body = _Body(tr, reserved)
    body.run(fdef.body, [])
    equations = list(body.equations)
    for ob in observables:
        if ob not in tr.locals:
            raise ValueError("Observable '%s' is never assigned in %s"
                             % (ob, fdef.name))
        equations.append("%s = %s" % (ob, tr.locals[ob]))
    if isinstance(ret, (ast.List, ast.Tuple)):
        if len(ret.elts) != len(state_names):
            _fail(ValueError, "Return has %d elements but system has %d "
                  "states: %s" % (len(ret.elts), len(state_names),
                                  state_names), where, returns[0])
        rhs = [tr.expr(e) for e in ret.elts]
    elif isinstance(ret, ast.Dict):
        by = {}
        for k, v in zip(ret.keys, ret.values):
            if not (isinstance(k, ast.Constant) and isinstance(k.value, str)):
                _fail(ValueError, "Dict return keys must be string literals",
                      where, returns[0])
            if k.value not in state_names:
                _fail(ValueError, "Dict return key '%s' is not a declared "
                      "state" % k.value, where, returns[0])
            by[k.value] = tr.expr(v)
        missing = [s for s in state_names if s not in by]
        if missing:
            _fail(ValueError, "Dict return has no derivative for %s"
                  % missing, where, returns[0])
        rhs = [by[s] for s in state_names]
    else:
        if len(state_names) != 1:
            _fail(ValueError, "Return has 1 element but system has %d "
                  "states: %s" % (len(state_names), state_names), where,
                  returns[0])
        rhs = [tr.expr(ret)]
    for s, r in zip(state_names, rhs):
        equations.append("d%s = %s" % (s, r))
    return equations, dict(states), parameters


def _infer_states(ret, y_arg, fdef, where):
    if isinstance(ret, ast.Dict):
        return {k.value: 0.0 for k in ret.keys
                if isinstance(k, ast.Constant) and isinstance(k.value, str)}
    named, top = False, -1
    for node in ast.walk(fdef):
        if isinstance(node, (ast.Attribute, ast.Subscript)) and \
                isinstance(node.value, ast.Name) and node.value.id == y_arg:
            if isinstance(node, ast.Subscript) and \
                    isinstance(node.slice, ast.Constant) and \
                    isinstance(node.slice.value, int):
                top = max(top, node.slice.value)
            else:
                named = True
    if named:
        raise ValueError("Cannot infer state names: the function returns a "
                         "list/tuple but accesses states by name, so return "
                         "positions carry no state binding. Pass states=..., "
                         "or return a dict keyed by state name.")
    n = len(ret.elts) if isinstance(ret, (ast.List, ast.Tuple)) else 1
    return {"%s%d" % (y_arg, i): 0.0 for i in range(max(n, top + 1))}


def string_equations(lines, states, parameters, constants, observables,
                     drivers):
    """(equations, states, parameters) for equation strings "dx = ...".

    Names nobody declared become parameters (default 0.0, with an
    EquationWarning); with no states declared, every "dX = ..." declares
    X, as the original does."""
    if isinstance(lines, str):
        lines = lines.splitlines()
    lines = [ln.strip() for ln in lines if ln.strip()]
    if not lines:
        raise ValueError("dxdt iterable cannot be empty")
    parameters = dict(parameters or {})
    constants = dict(constants or {})
    drivers = list(drivers or [])
    observables = list(observables or [])
    infer_states = states is None
    states = dict(states or {})
    parsed = []
    for i, line in enumerate(lines):
        if "=" not in line:
            raise ValueError("Equation %d ('%s') has no '='" % (i, line))
        lhs, rhs = line.split("=", 1)
        lhs = lhs.strip()
        try:
            tree = ast.parse(rhs.strip(), mode="eval")
        except SyntaxError as e:
            raise ValueError("Equation %d ('%s'): invalid expression at "
                             "column %d of its right-hand side"
                             % (i, line, (e.offset or 0))) from None
        if lhs.startswith("d(") and lhs.endswith(")"):
            inner = [p.strip() for p in lhs[2:-1].split(",")]
            if len(inner) == 2 and inner[1] == "t":
                lhs = "d" + inner[0]
        if not lhs.isidentifier():
            raise ValueError("Unsupported left-hand side '%s' in equation "
                             "'%s'. Expected a symbol, dX or d(x, t)."
                             % (lhs, line))
        if lhs in parameters or lhs in constants or lhs in drivers:
            raise ValueError("%s is an immutable input (constant, parameter, "
                             "or driver) but is being assigned. It must be a "
                             "state, observable, or auxiliary." % lhs)
        if infer_states and lhs.startswith("d") and len(lhs) > 1 and \
                lhs[1:] not in states:
            states[lhs[1:]] = 0.0
        parsed.append((i, line, lhs, tree))
    assigned = {lhs for _, _, lhs, _ in parsed}
    known = set(states) | set(parameters) | set(constants) | set(drivers) | \
        assigned | {"t"}
    equations = []
    for i, line, lhs, tree in parsed:
        where = _Where("equation %d ('%s')" % (i, line), 1)

        def resolve(node, where=where):
            if isinstance(node, ast.Name):
                name = node.id
            elif isinstance(node, ast.Subscript) and \
                    isinstance(node.value, ast.Name) and \
                    isinstance(node.slice, ast.Constant):
                name = "%s%s" % (node.value.id, node.slice.value)
            else:
                _fail(NotImplementedError, "Unsupported access '%s'"
                      % ast.unparse(node), where, node)
            if name not in known:
                parameters[name] = 0.0
                known.add(name)
                warnings.warn("Equations reference undefined symbol '%s'; it "
                              "was added as a parameter with a default value "
                              "of 0.0." % name, EquationWarning,
                              stacklevel=4)
            return name

        tr = _Translator(resolve, where)
        equations.append("%s = %s" % (lhs, tr.expr(tree.body)))
    return equations, states, parameters
