"""A client's JSON schema as a llama.cpp grammar (GBNF), or the reason it cannot be one.

llama-cpp-python's converter and llama.cpp's grammar code trust their input, and what a client
sends reaches them. Measured with llama-cpp-python 0.3.36:
- the converter reports a bad schema (a `$ref` that points nowhere, an unknown type, a pattern
  without ^...$) with whatever exception it trips on: AssertionError, KeyError, RecursionError...;
- it writes `maxLength`, `maxItems` and regex `{m,n}` as nested groups, and llama.cpp parses
  groups recursively: past about 10,000 levels the process dies (SIGSEGV). A large bound also
  costs the converter memory and time before any parser sees it;
- llama.cpp answers a grammar it cannot parse (an empty `enum` or `anyOf`, a broken escape)
  with NULL, and adding a NULL sampler crashes;
- a grammar literal holding code point 0 (a schema string with U+0000) parses, then aborts the
  process while sampling ("Unexpected empty grammar stack").
So bounds are checked before converting, the output is checked before parsing, and the parse
itself is tried once (`parses`) before generation uses the grammar.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

# The largest repetition count a schema may ask for (maxLength 1000 gives 1,000 nested groups,
# which llama.cpp parses in well under a millisecond).
MAX_REPEAT = 1000
_REPEAT_KEYWORDS = ("minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties")
# Nested quantifiers multiply: ((a{100}){100}) is 10,000 copies of a.
MAX_PATTERN_REPEAT = 10_000
_QUANTIFIER = re.compile(r"\{(\d+)(?:,(\d*))?\}")
MAX_DEPTH = 64  # JSON nesting of the schema itself; the converter recurses per level
MAX_GRAMMAR_CHARS = 500_000
MAX_GRAMMAR_NESTING = 1500  # groups inside groups; llama.cpp recurses per level
# What is inside a grammar's string literals and character classes, where parentheses are text.
_LITERALS = re.compile(r'"(?:\\.|[^"\\])*"|\[(?:\\.|[^\]\\])*\]')
_ESCAPE = re.compile(r"\\(?:x([0-9a-fA-F]{2})|u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8})|.)")


class GrammarError(ValueError):
    """The schema cannot be enforced by a grammar; the message says why."""


def schema_grammar(schema: Any) -> str:
    """The GBNF grammar of a JSON schema; GrammarError when the schema is refused."""
    if not isinstance(schema, dict):
        raise GrammarError("Expected a JSON schema object")
    _check_schema(schema, 1)
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    try:
        grammar = json_schema_to_gbnf(json.dumps(schema))
    except Exception as exc:  # the converter has no error type of its own; see the module note
        raise GrammarError(f"the schema cannot be turned into a grammar ({_reason(exc)})") from exc
    _check_grammar(grammar)
    return grammar


def parses(grammar: str, vocab: Any) -> bool:
    """Whether llama.cpp accepts the grammar (it answers NULL rather than raising)."""
    import llama_cpp

    sampler = llama_cpp.llama_sampler_init_grammar(vocab, grammar.encode(), b"root")
    if not sampler:
        return False
    llama_cpp.llama_sampler_free(sampler)
    return True


def _reason(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= 200 else text[:200] + "..."


def _check_schema(node: Any, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise GrammarError(f"the schema is nested more than {MAX_DEPTH} levels deep")
    if isinstance(node, list):
        for item in node:
            _check_schema(item, depth + 1)
        return
    if not isinstance(node, dict):
        return
    for keyword in _REPEAT_KEYWORDS:
        value = node.get(keyword)
        # Only numbers are bounds: a property may be *named* maxLength.
        if isinstance(value, int | float) and not isinstance(value, bool) and value > MAX_REPEAT:
            raise GrammarError(f"{keyword} {value} is more than the local engine allows ({MAX_REPEAT})")
    pattern = node.get("pattern")
    if isinstance(pattern, str):
        _check_pattern(pattern)
    for value in node.values():
        _check_schema(value, depth + 1)


def _check_pattern(pattern: str) -> None:
    # Every bound counts, as if all quantifiers were nested: an upper bound of what it expands to.
    total = math.prod(int(high or low) for low, high in _QUANTIFIER.findall(pattern))
    if total > MAX_PATTERN_REPEAT:
        raise GrammarError(
            f"the pattern {pattern[:50]!r} repeats up to {total} times, more than the local engine "
            f"allows ({MAX_PATTERN_REPEAT})"
        )


def _check_grammar(grammar: str) -> None:
    if len(grammar) > MAX_GRAMMAR_CHARS:
        raise GrammarError(f"the schema's grammar is too large ({len(grammar)} characters)")
    for match in _ESCAPE.finditer(grammar):
        code = next((g for g in match.groups() if g is not None), None)
        if code is not None and int(code, 16) == 0:
            raise GrammarError("the schema holds the character U+0000, which the local engine cannot match")
    depth = deepest = 0
    for paren in re.findall(r"[()]", _LITERALS.sub("", grammar)):
        depth += 1 if paren == "(" else -1
        deepest = max(deepest, depth)
    if deepest > MAX_GRAMMAR_NESTING:
        raise GrammarError(f"the schema's grammar nests {deepest} groups, more than {MAX_GRAMMAR_NESTING}")
