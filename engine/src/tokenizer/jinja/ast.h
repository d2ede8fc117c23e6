// tokenizer/jinja/ast.h - the syntax tree of a parsed template (private to tokenizer/jinja).
// One node type: `kind` says which fields are used; every node keeps the source offset it
// started at for error messages.
#pragma once

#include "tokenizer/jinja/value.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace sigma::jinja {

enum class NodeKind {
    // statements
    Body,        // kids: statements in order
    Text,        // value: the text
    Output,      // kids[0]: expression to print
    If,          // kids[0]: condition, body: then, else_body: else (an elif is a nested If)
    For,         // names: targets, kids[0]: iterable, kids[1]: filter condition or null, body, else_body
    Set,         // names: targets (1 = name, >1 = tuple unpacking), kids[0]: value
    SetAttr,     // name: namespace variable, attr: attribute, kids[0]: value
    SetBlock,    // name: target, body, kw: filters applied ({% set x | trim %})
    Macro,       // name, names: parameters, kids: defaults aligned to the last parameters, body
    CallBlock,   // kids[0]: the Call of a macro, body: what the macro's caller() renders
    Break, Continue,
    FilterBlock, // body; kids[0]: a Filter node applied to the body's output (its kids[0] is null)
    // expressions
    Literal,     // value
    Name,        // name
    Attr,        // kids[0].attr
    Index,       // kids[0][kids[1]]
    Slice,       // kids[0][kids[1]:kids[2]:kids[3]] (null kids = omitted)
    Call,        // kids[0](kids[1..], kw...); a kw named "*" / "**" is a *args / **kwargs splat
    Filter,      // kids[0] | name(kids[1..], kw...)
    Test,        // kids[0] is [not] name(kids[1..]); negated
    Unary,       // op: "-", "+", "not"; kids[0]
    Binary,      // op: + - * / // % ** ~ and or; kids[0], kids[1]
    Compare,     // kids[0] op[0] kids[1] op[1] kids[2]... (names: the operators)
    CondExpr,    // kids[1] if kids[0] else kids[2] (kids[2] null: Undefined)
    List, Tuple, // kids
    Dict,        // kids: key, value, key, value...
};

struct Node;
using NodePtr = std::unique_ptr<Node>;

struct Node {
    NodeKind kind;
    size_t pos = 0;
    std::string name;                  // identifier / filter / test / operator
    std::string attr;
    Value value;
    std::vector<NodePtr> kids;
    std::vector<std::string> names;
    std::vector<std::pair<std::string, NodePtr>> kw;   // keyword arguments
    std::unique_ptr<Node> body, else_body;
    bool negated = false;

    Node(NodeKind k, size_t p) : kind(k), pos(p) {}
};

// Parses normalized template source; throws Error. Defined in parser.cpp.
NodePtr parse_template(const std::string& source, size_t max_depth);
// Line and column (1-based) of `offset` in `source`.
std::pair<size_t, size_t> line_column(const std::string& source, size_t offset);

}  // namespace sigma::jinja
