#!/usr/bin/python3
"""Golden outputs for the chat-template interpreter (engine/src/tokenizer/jinja), made by the
reference: Python's jinja2 (Debian python3-jinja2) set up exactly as transformers'
apply_chat_template sets it up (transformers/utils/chat_template_utils.py):
  ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                extensions=[AssistantTracker ({% generation %}), loopcontrols])
  filters["tojson"] = json.dumps(x, ensure_ascii=False, indent=indent, separators=..., sort_keys=...)
  globals raise_exception(msg) -> TemplateError, strftime_now(fmt) -> datetime.now().strftime(fmt)
  render(messages=..., tools=<list or None>, documents=None, add_generation_prompt=..., bos_token, eos_token)
strftime_now is pinned to NOW (2024-07-26 12:00 UTC, a date in every time zone) so the goldens
do not change with the day; the C++ test passes the same instant.

Reads tests/fixtures/chat_templates/*.jinja and manifest.json (bos/eos per template), writes
tests/fixtures/chat_templates/goldens.json: per template, conversations with and without a
system message, single and multi-turn, add_generation_prompt true and false, and a tool-calling
conversation where the template mentions tools. A template that raises (e.g. Gemma refuses a
system message) gets the error message as its golden instead.

Usage: /usr/bin/python3 tools/ref/gen_template_goldens.py [FIXTURE_DIR]   (Debian's python3 and python3-jinja2)
"""
import datetime
import json
import os
import sys

import jinja2
from jinja2 import nodes
from jinja2.ext import Extension
from jinja2.sandbox import ImmutableSandboxedEnvironment

NOW = 1721995200  # 2024-07-26 12:00:00 UTC


class AssistantTracker(Extension):
    """transformers' {% generation %} ... {% endgeneration %}: renders its body unchanged."""
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return nodes.CallBlock(self.call_method("_render"), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def strftime_now(format):
    return datetime.datetime.fromtimestamp(NOW).strftime(format)


def make_env():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[AssistantTracker, jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


SYSTEM = {"role": "system", "content": "You are a helpful assistant."}
USER1 = {"role": "user", "content": "Hello, how are you?"}
ASSISTANT1 = {"role": "assistant", "content": "  I'm fine, thanks. How can I help?  "}
USER2 = {"role": "user", "content": "Grüße! What's  the   disk usage of /var?\n"}
TOOLS = [{
    "type": "function",
    "function": {
        "name": "get_disk_usage",
        "description": "Get the disk usage of a path",
        "parameters": {
            "type": "object",
            "properties": {
                "path": {"type": "string", "description": "The directory, e.g. /var"},
                "unit": {"type": "string", "enum": ["bytes", "human"]},
            },
            "required": ["path"],
        },
    },
}]
TOOL_CALL = {"role": "assistant", "content": None, "tool_calls": [{
    "id": "call_0001", "type": "function",
    "function": {"name": "get_disk_usage", "arguments": {"path": "/var", "unit": "human"}}}]}
TOOL_RESULT = {"role": "tool", "tool_call_id": "call_0001", "name": "get_disk_usage", "content": "3.2G"}

CONVERSATIONS = {
    "user": [USER1],
    "system_user": [SYSTEM, USER1],
    "multi_turn": [USER1, ASSISTANT1, USER2],
    "system_multi_turn": [SYSTEM, USER1, ASSISTANT1, USER2],
}
TOOL_CONVERSATION = [SYSTEM, USER2, TOOL_CALL, TOOL_RESULT]


# Feature snippets: each renders with SNIPPET_CONTEXT; covers the filters, tests, operators,
# methods and statements the interpreter claims (jinja.h), checked against jinja2 one by one.
SNIPPET_CONTEXT = {
    "messages": [SYSTEM, USER1, ASSISTANT1, USER2],
    "d": {"b": 2, "a": 1, "name": "Disk", "nested": {"x": [1, 2, 3]}},
    "items": [{"role": "user", "n": 3, "ok": True}, {"role": "tool", "n": 1, "ok": False}, {"role": "user", "n": 2}],
    "s": "  Hello, Wörld! \t\n", "n": 7, "f": 2.5, "none_value": None, "empty": [], "words": "a-b c(d [e",
    "tools": TOOLS,
}
SNIPPETS = [
    # output of values as Python prints them
    "{{ none_value }}|{{ true }}|{{ 1.0 }}|{{ 0.1 + 0.2 }}|{{ 1e20 }}|{{ 1e-7 }}|{{ [1, 'a', none, 2.5] }}|{{ d }}|{{ (1,) }}|{{ ('a', 2) }}",
    r"""{{ undefined_var }}|{{ d.missing }}|{{ messages[10] }}|{{ 'it\'s' }}|{{ ["it's", 'say "hi"'] }}|{{ "a'b" }}""",
    # arithmetic, comparisons, logic
    "{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 2 ** 10 }} {{ 2 ** -1 }} {{ 1 + 2 * 3 - 4 }} {{ (1 + 2) * 3 }} {{ -n }} {{ f * 2 }} {{ n + true }} {{ (-1) ** 3 }} {{ 0 ** 0 }} {{ 2 ** 62 }} {{ -2 ** 2 }} {{ 1e300|int > 0 }}",
    "{{ 1 < 2 < 3 }} {{ 1 == 1.0 }} {{ 'a' < 'b' }} {{ [1, 2] < [1, 3] }} {{ 'ell' in 'hello' }} {{ 2 not in [1, 2] }} {{ 'a' in d }} {{ none_value is none }} {{ not empty }} {{ empty or 'x' }} {{ 0 and 1 }}",
    "{{ 'a' ~ 1 ~ none_value ~ undefined_var }}|{{ 'ab' * 3 }}|{{ [1] * 3 }}|{{ [1] + [2, 3] }}|{{ 'x' if n > 5 else 'y' }}|{{ 'x' if n > 50 }}|",
    # subscripts, slices, attributes
    "{{ messages[-1].role }} {{ messages[0]['content'] }} {{ 'hello'[1:3] }} {{ 'hello'[::-1] }} {{ 'Wörld'[1] }} {{ [1,2,3,4,5][::2] }} {{ [1,2,3][-2:] }} {{ messages[1:]|length }} {{ d.nested.x.1 }}",
    # string methods
    "[{{ s.strip() }}][{{ s.lstrip() }}][{{ s.rstrip() }}][{{ 'xxhixx'.strip('x') }}][{{ 'a,b,,c'.split(',') }}][{{ ' a  b '.split() }}][{{ 'a b c'.split(' ', 1) }}]",
    "{{ 'Hello'.startswith('He') }} {{ 'Hello'.endswith(('x', 'lo')) }} {{ 'MiXed'.upper() }} {{ 'MiXed'.lower() }} {{ 'hello world'.title() }} {{ 'hELLO'.capitalize() }} {{ 'aaa'.replace('a', 'b', 2) }} {{ 'abc'.find('c') }} {{ '-'.join(['a', 'b']) }}",
    # dict methods
    "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}|{{ d.keys()|list }}|{{ d.values()|list|length }}|{{ d.get('a') }}|{{ d.get('zz', 'dflt') }}|{{ d.get('zz') }}",
    # filters
    "[{{ s|trim }}][{{ s|length }}][{{ 'MiXed'|upper }}][{{ 'MiXed'|lower }}][{{ words|title }}][{{ 'hELLO wORLD'|capitalize }}][{{ 'aXbX'|replace('X', '-') }}][{{ [1, 2, 3]|join(', ') }}]",
    "{{ [3, 1, 2]|first }} {{ [3, 1, 2]|last }} {{ 'abc'|first }} {{ undefined_var|default('dflt') }} {{ ''|default('dflt', true) }} {{ none_value|default('x') }} {{ 42|string }} {{ '12'|int + 1 }} {{ 'x'|int }} {{ 3.9|int }} {{ '2.5'|float }} {{ -3|abs }}",
    "{{ 'abc'|list }} {{ d|list }} {{ d|items|list }} {{ d|dictsort }} {{ [3, 1, 2]|sort }} {{ [3, 1, 2]|sort(reverse=true) }} {{ ['b', 'A', 'c']|sort }} {{ [1, 2, 1]|unique|list }} {{ [1, 2]|reverse|list }} {{ 'abc'|reverse }}",
    "{{ items|selectattr('role', 'equalto', 'user')|list|length }} {{ items|rejectattr('ok')|map(attribute='n')|list }} {{ items|map(attribute='role')|join(',') }} {{ items|selectattr('ok')|list|length }} {{ [1, 2, 3, 4]|select('even')|list }} {{ [1, 0, 2]|reject|list }} {{ ['a', 'b']|map('upper')|list }}",
    "{{ items|map(attribute='n')|sum }} {{ [3, 1, 2]|min }} {{ [3, 1, 2]|max }} {{ 2.567|round(1) }} {{ '<a href=\"x\">&</a>'|escape }} {{ '<b>'|safe }} {{ 'a\nb\n\nc'|indent(2) }} {{ 'a\nb'|indent(2, true) }} {{ '%s has %d'|format('x', 3) }} {{ 'one two  three'|wordcount }}",
    "{{ d|tojson }}|{{ d|tojson(indent=2) }}|{{ tools|tojson }}|{{ 'Grüße \"q\" \\ \n\t'|tojson }}|{{ [1, 2.5, none, true]|tojson }}|{{ d|tojson(sort_keys=true) }}|{{ d|tojson(separators=(',', ':')) }}|{{ {}|tojson(indent=4) }}|{{ 'é'|tojson(ensure_ascii=true) }}",
    # tests
    "{{ n is number }} {{ f is float }} {{ n is integer }} {{ true is boolean }} {{ s is string }} {{ d is mapping }} {{ messages is iterable }} {{ s is iterable }} {{ n is iterable }} {{ undefined_var is defined }} {{ undefined_var is undefined }} {{ none_value is none }} {{ n is odd }} {{ n is even }} {{ n is divisibleby 7 }}",
    "{{ n is eq 7 }} {{ n is ne 7 }} {{ n is gt 3 }} {{ n is lt 3 }} {{ n is ge 7 }} {{ n is le 6 }} {{ 'a' is in 'abc' }} {{ none_value is sameas none }} {{ true is sameas true }} {{ 'abc' is lower }} {{ 'ABC' is upper }} {{ range is callable }} {{ d is sequence }} {{ true is true }} {{ 0 is false }}",
    # loops
    "{% for m in messages %}{{ loop.index }}/{{ loop.index0 }}/{{ loop.revindex }}/{{ loop.revindex0 }}/{{ loop.first }}/{{ loop.last }}/{{ loop.length }}/{{ loop.previtem.role if loop.previtem is defined else '-' }}/{{ loop.nextitem.role if loop.nextitem is defined else '-' }}/{{ loop.cycle('odd', 'even') }};{% endfor %}",
    "{% for m in messages if m.role != 'system' %}{{ loop.index }}:{{ m.role }} {% else %}none{% endfor %}|{% for x in empty %}x{% else %}empty{% endfor %}|{% for i in range(10) %}{% if i == 2 %}{% continue %}{% endif %}{% if i > 4 %}{% break %}{% endif %}{{ i }}{% endfor %}|{% for a, b in [(1, 2), (3, 4)] %}{{ a + b }}{% endfor %}|{% for c in 'héllo' %}{{ c }}.{% endfor %}",
    "{% for i in range(3) %}{% set x = i * 10 %}{{ x }},{% endfor %}{{ x }}|{% set ns = namespace(total=0, seen=false) %}{% for i in range(1, 5) %}{% set ns.total = ns.total + i %}{% endfor %}{{ ns.total }}{{ ns.seen }}|{{ range(5)|list }}{{ range(2, 10, 3)|list }}{{ range(5, 0, -2)|list }}",
    # set, macros, call blocks, filter blocks
    "{% set a, b = 1, 2 %}{{ a }}{{ b }}|{% set block %}  inner {{ n }}  {% endset %}[{{ block }}]|{% set t | trim %}  trimmed  {% endset %}[{{ t }}]|{% filter upper %}shout {{ n }}{% endfilter %}",
    "{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('Bob') }} {{ greet('Al', punct='?') }} {{ greet(name='Cy') }}|{% macro wrap() %}<{{ caller() }}>{% endmacro %}{% call wrap() %}body {{ n }}{% endcall %}",
    "{% macro fact(k) %}{% if k <= 1 %}1{% else %}{{ k * (fact(k - 1)|int) }}{% endif %}{% endmacro %}{{ fact(5) }}|{% set args = ['x', 'y'] %}{% macro two(a, b) %}{{ a }}{{ b }}{% endmacro %}{{ two(*args) }}{{ two(**{'a': 1, 'b': 2}) }}",
    # whitespace control with trim_blocks / lstrip_blocks
    "{% for m in messages %}\n    {% if m.role == 'user' %}\n        U: {{ m.content | trim }}\n    {% endif %}\n{% endfor %}\n  {#- comment -#}\n  end {{- '!' -}}  \n  {%+ if true %}kept{% endif %}\n",
    "{%- set x = 1 -%}\n  a  \n{{- x -}}\n  b  {# c #}\n\n{% raw %}{{ not parsed }}{% endraw %}\n",
    # strftime_now, dict literals, string escapes
    "{{ strftime_now('%d %b %Y') }}|{{ {'k': [1, {'z': none}], 'j': 'v'} }}|{{ 'tab\\there' }}|{{ '\\u00e9\\x41\\n' }}|{{ \"dq'sq\" }}|{{ 'adjacent' 'strings' }}",
    # errors jinja2 raises too
    "{{ raise_exception('custom failure') }}",
    "{{ 'a' + 1 }}",
    "{{ undefined_var.attr }}",
    "{{ 1 / 0 }}",
    "{% for a, b in [1, 2] %}{% endfor %}",
]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    fixtures = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", "tests", "fixtures", "chat_templates")
    manifest = json.load(open(os.path.join(fixtures, "manifest.json"), encoding="utf-8"))
    env = make_env()
    cases = []
    for name in sorted(manifest):
        source = open(os.path.join(fixtures, name + ".jinja"), encoding="utf-8").read()
        template = env.from_string(source)
        convs = dict(CONVERSATIONS)
        if "tools" in source:
            convs["tools"] = TOOL_CONVERSATION
        for conv_name, messages in convs.items():
            for gen in (True, False):
                context = {"messages": messages, "tools": TOOLS if conv_name == "tools" else None,
                           "documents": None, "add_generation_prompt": gen}
                for tok in ("bos_token", "eos_token"):
                    if manifest[name].get(tok) is not None:
                        context[tok] = manifest[name][tok]
                case = {"template": name, "case": conv_name, "context": context}
                try:
                    case["expected"] = template.render(**context)
                except Exception as e:  # the C++ side must fail too; raise_exception()'s text must match
                    case["error"] = str(e)
                    case["error_type"] = type(e).__name__
                cases.append(case)
    snippets = []
    for src in SNIPPETS:
        snippet = {"template": src, "context": SNIPPET_CONTEXT}
        try:
            snippet["expected"] = env.from_string(src).render(**SNIPPET_CONTEXT)
        except Exception as e:
            snippet["error"] = str(e)
            snippet["error_type"] = type(e).__name__
        snippets.append(snippet)
    out = {"generator": "tools/ref/gen_template_goldens.py", "jinja2": jinja2.__version__, "now": NOW, "cases": cases,
           "snippets": snippets}
    with open(os.path.join(fixtures, "goldens.json"), "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")
    n_err = sum("error" in c for c in cases)
    print(f"{len(cases)} cases from {len(manifest)} templates ({n_err} expected errors)")


if __name__ == "__main__":
    main()
