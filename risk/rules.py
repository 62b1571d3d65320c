"""Staff rules in Google's Common Expression Language (CEL), with the cel-python library. Never `eval`.

A rule is one CEL expression over the fields below that yields true or false:

    payment.amount > 500000 && card.country != merchant.country

`validate` parses an expression, refuses unknown names and fields and functions outside a small
set, and evaluates it once on a sample input (type errors show up there) that must give a bool.
`evaluate` runs a compiled program against one assessment's input. `to_sql_filter` translates the
common subset (and, or, not, comparisons, `in` a list literal, + - * on numbers, fields, literals)
into a database filter over stored assessments, which is what keeps a backtest fast on a million
rows; anything else falls back to evaluating the expression row by row (see services.rule_backtest).
"""

from __future__ import annotations

import threading

import celpy
from celpy import celtypes
from django.db.models import BigIntegerField, F, FloatField, Q, Value
from django.db.models.fields.json import KT
from django.db.models.functions import Cast
from lark import Token, Tree

from .constants import VELOCITY_FIELDS

# Every field a rule may read: {root: {field: python type}}; `score` is a top-level int.
FIELDS: dict[str, dict[str, type]] = {
    "payment": {"amount": int, "currency": str, "livemode": bool},
    "card": {"fingerprint": str, "bin": str, "last4": str, "brand": str, "country": str},
    "customer": {"email": str, "email_domain": str, "ip": str, "ip_country": str},
    "merchant": {"id": str, "country": str},
    "velocity": {name: int for name in VELOCITY_FIELDS},
    "amount_stats": {"count": int, "mean": float, "stddev": float, "zscore": float},
}
TOP_LEVEL = {"score": int}
FUNCTIONS = {"size", "int", "double", "string", "startsWith", "endsWith", "contains", "matches"}

_SAMPLE = {str: "XX", int: 1, float: 1.0, bool: True}

# Where each field lives on risk.Assessment, for backtests in SQL.
COLUMNS = {
    "payment.amount": "amount", "payment.currency": "currency", "payment.livemode": "livemode",
    "card.fingerprint": "card_fingerprint", "card.bin": "card_bin", "card.last4": "card_last4",
    "card.brand": "card_brand", "card.country": "card_country", "customer.email": "customer_email",
    "customer.email_domain": "email_domain", "customer.ip_country": "ip_country",
    "merchant.id": "merchant_id", "merchant.country": "merchant_country", "score": "score",
}


class RuleError(ValueError):
    """An expression that cannot be a rule; the message says why, for the person who wrote it."""


_env = celpy.Environment()


def sample_activation(*, big: bool = False) -> dict:
    """Typed sample input for the trial runs: small values and true, or large values and false (so
    both sides of most conditions get evaluated)."""
    sample = {**_SAMPLE, int: 10**9, float: 1e9, bool: False, str: "YY"} if big else _SAMPLE
    data = {root: {name: sample[t] for name, t in fields.items()} for root, fields in FIELDS.items()}
    data["score"] = sample[int]
    return data


def _walk_names(tree: Tree) -> None:
    """Refuse names, fields and functions a rule may not use."""
    for node in tree.iter_subtrees():
        if node.data == "member_dot":
            inner, field = node.children
            root = _root_ident(inner)
            if root is not None:
                if root not in FIELDS:
                    raise RuleError(f"Unknown name '{root}'. Known: {', '.join(sorted([*FIELDS, *TOP_LEVEL]))}.")
                if field.value not in FIELDS[root]:
                    raise RuleError(f"Unknown field '{root}.{field.value}'. {root} has: "
                                    f"{', '.join(sorted(FIELDS[root]))}.")
        elif node.data == "primary" and isinstance(node.children[0], Tree) and node.children[0].data == "ident":
            name = node.children[0].children[0].value
            if name not in FIELDS and name not in TOP_LEVEL:
                raise RuleError(f"Unknown name '{name}'. Known: {', '.join(sorted([*FIELDS, *TOP_LEVEL]))}.")
        elif node.data == "ident_arg":
            if node.children[0].value not in FUNCTIONS:
                raise RuleError(f"Function '{node.children[0].value}' is not allowed here.")
        elif node.data == "member_dot_arg":
            if node.children[1].value not in FUNCTIONS:
                raise RuleError(f"Function '{node.children[1].value}' is not allowed here.")
        elif node.data in ("member_object", "map_lit", "member_index"):
            raise RuleError("Object construction, maps and indexing are not allowed in rules.")


def _root_ident(member: Tree) -> str | None:
    """`payment` for the member node of `payment` (the left side of `payment.amount`)."""
    if member.data == "member" and len(member.children) == 1:
        child = member.children[0]
        if isinstance(child, Tree) and child.data == "primary":
            ident = child.children[0]
            if isinstance(ident, Tree) and ident.data == "ident":
                return ident.children[0].value
    return None


def parse(expression: str) -> Tree:
    if not expression or not expression.strip():
        raise RuleError("The expression is empty.")
    if len(expression) > 4000:
        raise RuleError("The expression is too long (4000 characters at most).")
    try:
        return _env.compile(expression)
    except celpy.CELParseError as exc:
        raise RuleError(f"Syntax error: {str(exc).strip()}") from None


def validate(expression: str) -> Tree:
    """Syntax, known fields, allowed functions, and a trial run that must give true or false."""
    tree = parse(expression)
    _walk_names(tree)
    prog = _env.program(tree)
    for sample in (sample_activation(), sample_activation(big=True)):
        try:
            result = prog.evaluate(celpy.json_to_cel(sample))
        except Exception as exc:  # celpy raises its own evaluation errors
            raise RuleError(f"The expression cannot be evaluated: {exc}") from None
        if isinstance(result, celpy.CELEvalError):
            raise RuleError(f"The expression cannot be evaluated: {result.args[0] if result.args else result}")
        if not isinstance(result, celtypes.BoolType):
            raise RuleError("The expression must give true or false (a condition), not a "
                            f"{type(result).__name__.replace('Type', '').lower()}.")
    return tree


_cache: dict[tuple[str, str], object] = {}
_cache_lock = threading.Lock()


def program(rule_id: str, version: str, expression: str):
    """The compiled program of a rule, cached per (rule, last change)."""
    key = (rule_id, version)
    prog = _cache.get(key)
    if prog is None:
        prog = _env.program(parse(expression))
        with _cache_lock:
            if len(_cache) > 2000:
                _cache.clear()
            _cache[key] = prog
    return prog


def activation(data: dict):
    return celpy.json_to_cel(data)


def evaluate(prog, act) -> bool:
    """True when the rule matches. An evaluation error raises RuleError (recorded, not a match)."""
    try:
        result = prog.evaluate(act)
    except Exception as exc:
        raise RuleError(str(exc)) from None
    if isinstance(result, celpy.CELEvalError):
        raise RuleError(str(result.args[0] if result.args else result))
    return bool(result) if isinstance(result, celtypes.BoolType) else False


# --- CEL -> database filter (backtests) -----------------------------------------------------------


class Untranslatable(Exception):
    pass


class _SqlBuilder:
    _LOOKUPS = {"relation_lt": "lt", "relation_le": "lte", "relation_gt": "gt", "relation_ge": "gte",
                "relation_eq": "exact", "relation_ne": "exact"}
    _FLIP = {"lt": "gt", "lte": "gte", "gt": "lt", "gte": "lte", "exact": "exact"}

    def __init__(self):
        self.aliases: dict[str, object] = {}

    def q(self, node) -> Q:
        kind = node.data
        children = node.children
        if kind in ("expr", "conditionalor", "conditionaland", "relation") and len(children) == 1:
            child = children[0]
            return self.q(child)
        if kind == "conditionalor" and len(children) == 2:
            return self.q(children[0]) | self.q(children[1])
        if kind == "conditionaland" and len(children) == 2:
            return self.q(children[0]) & self.q(children[1])
        # Binary operators are parent(operator(left), right): relation(relation_gt(a), b) is a > b.
        op = children[0].data if kind == "relation" and len(children) == 2 else None
        if op in self._LOOKUPS:
            left, right = self.value(children[0].children[0]), self.value(children[1])
            lookup = self._LOOKUPS[op]
            if isinstance(left, Value) and not isinstance(right, Value):
                left, right, lookup = right, left, self._FLIP[lookup]
            q = Q(**{f"{self._alias(left)}__{lookup}": right.value if isinstance(right, Value) else right})
            return ~q if op == "relation_ne" else q
        if op == "relation_in":
            left, right = self.value(children[0].children[0]), children[1]
            items = self._list_literal(right)
            return Q(**{f"{self._alias(left)}__in": items})
        if kind == "unary" and len(children) == 2 and children[0].data == "unary_not":
            return ~self.q(children[1])
        if kind in ("unary", "member", "addition", "multiplication") and len(children) == 1:
            return self.q(children[0])
        if kind == "primary" and children[0].data == "paren_expr":
            return self.q(children[0].children[0])
        if kind == "member_dot" and _field_type(node) is bool:  # a bare boolean field
            return Q(**{self._alias(self.value(node)): True})
        if kind == "primary" and children[0].data == "literal" and children[0].children[0].type == "BOOL_LIT":
            return Q(pk__isnull=children[0].children[0].value != "true")
        raise Untranslatable(kind)

    def _alias(self, expr) -> str:
        if isinstance(expr, F):
            return expr.name
        name = f"_bt{len(self.aliases)}"
        self.aliases[name] = expr
        return name

    def _list_literal(self, node) -> list:
        while isinstance(node, Tree) and node.data != "list_lit" and len(node.children) == 1:
            node = node.children[0]
        if not isinstance(node, Tree) or node.data != "list_lit":
            raise Untranslatable("in")
        items = []
        for expr in (node.children[0].children if node.children else []):
            value = self.value(expr)
            if not isinstance(value, Value):
                raise Untranslatable("in non-literal")
            items.append(value.value)
        return items

    def value(self, node):
        if isinstance(node, Token):
            raise Untranslatable(node.type)
        kind, children = node.data, node.children
        if kind in ("expr", "conditionalor", "conditionaland", "relation", "addition", "multiplication", "unary",
                    "member") and len(children) == 1:
            return self.value(children[0])
        if kind == "primary":
            child = children[0]
            if child.data == "literal":
                return Value(_literal(child.children[0]))
            if child.data == "ident":
                name = child.children[0].value
                if name in COLUMNS:
                    return F(COLUMNS[name])
            if child.data == "paren_expr":
                return self.value(child.children[0])
            raise Untranslatable(child.data)
        if kind == "member_dot":
            root, field = _root_ident(children[0]), children[1].value
            path = f"{root}.{field}"
            if path in COLUMNS:
                return F(COLUMNS[path])
            if root == "velocity":
                return Cast(KT(f"signals__velocity__{field}"), BigIntegerField())
            if root == "amount_stats":
                return Cast(KT(f"signals__amount_stats__{field}"), FloatField())
            raise Untranslatable(path)
        ops = {"addition_add": "__add__", "addition_sub": "__sub__", "multiplication_mul": "__mul__"}
        if kind in ("addition", "multiplication") and len(children) == 2 and children[0].data in ops:
            left, right = self.value(children[0].children[0]), self.value(children[1])
            if isinstance(left, Value) and isinstance(right, Value):
                raise Untranslatable("constant arithmetic")
            return getattr(left, ops[children[0].data])(right)
        if kind == "unary" and len(children) == 2 and children[0].data == "unary_neg":
            inner = self.value(children[1])
            if isinstance(inner, Value):
                return Value(-inner.value)
            return inner * Value(-1)
        raise Untranslatable(kind)


def _field_type(member_dot: Tree):
    root, field = _root_ident(member_dot.children[0]), member_dot.children[1].value
    return FIELDS.get(root, {}).get(field)


def _literal(token: Token):
    text = token.value
    if token.type == "INT_LIT":
        return int(text, 0)
    if token.type == "UINT_LIT":
        return int(text.rstrip("uU"), 0)
    if token.type == "FLOAT_LIT":
        return float(text)
    if token.type == "BOOL_LIT":
        return text == "true"
    if token.type == "STRING_LIT" and text[:1] in "\"'" and not text.startswith(("'''", '"""')) \
            and "\\" not in text:
        return text[1:-1]
    raise Untranslatable(token.type)


def to_sql_filter(expression: str) -> tuple[dict, Q]:
    """(aliases to annotate, filter) equivalent to the expression over risk.Assessment rows.

    Raises Untranslatable for anything outside the translated subset.
    """
    tree = parse(expression)
    builder = _SqlBuilder()
    q = builder.q(tree)
    return builder.aliases, q
