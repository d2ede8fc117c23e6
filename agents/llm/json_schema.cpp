// json_schema.cpp - Constraint::Kind::JsonSchema for the local engine: a JSON schema of the
// simple kinds (object with properties, array with items, string, number, integer, boolean,
// null, enum, const, anyOf/oneOf) becomes a grammar for the engine's constrained decoding.
// Objects are written with every listed property, in the schema's order, compact (no newlines).
#include <llm/llm.h>

#include <nlohmann/json.hpp>

namespace sigmaops::llm {

namespace {

using json = nlohmann::ordered_json;

struct Builder {
    std::string rules;
    int n = 0;

    static std::string lit(const std::string& s) {
        std::string out = "\"";
        for (char c : s) {
            if (c == '"' || c == '\\') out += '\\';
            if (c == '\n') { out += "\\n"; continue; }
            out += c;
        }
        return out + "\"";
    }

    // Returns the grammar expression for `s` (a rule name or an inline expression).
    std::string value(const json& s, const std::string& where) {
        if (s.is_boolean()) {
            if (s.get<bool>()) return "value";
            throw Exception(ErrorCode::InvalidArgument, "JSON schema at " + where + ": `false` allows nothing");
        }
        if (!s.is_object()) throw Exception(ErrorCode::InvalidArgument, "JSON schema at " + where + ": a schema must be an object");
        for (const char* k : {"$ref", "allOf", "not", "pattern", "patternProperties", "if", "format"})
            if (s.contains(k))
                throw Exception(ErrorCode::Unsupported, std::string("JSON schema at ") + where + ": '" + k +
                                                            "' is not supported; write a grammar (Constraint::Kind::Grammar)");
        if (s.contains("const")) return lit(s["const"].dump());
        if (s.contains("enum")) {
            if (!s["enum"].is_array() || s["enum"].empty())
                throw Exception(ErrorCode::InvalidArgument, "JSON schema at " + where + ": enum must be a non-empty array");
            std::string alts;
            for (const json& v : s["enum"]) alts += (alts.empty() ? "" : " | ") + lit(v.dump());
            return "(" + alts + ")";
        }
        for (const char* k : {"anyOf", "oneOf"})
            if (s.contains(k)) {
                if (!s[k].is_array() || s[k].empty())
                    throw Exception(ErrorCode::InvalidArgument, "JSON schema at " + where + ": " + k + " must be a non-empty array");
                std::string alts;
                for (size_t i = 0; i < s[k].size(); ++i)
                    alts += (alts.empty() ? "" : " | ") + value(s[k][i], where + "/" + k + "/" + std::to_string(i));
                return "(" + alts + ")";
            }
        if (!s.contains("type")) return "value";
        const json& t = s["type"];
        if (t.is_array()) {
            std::string alts;
            for (const json& one : t) {
                json copy = s;
                copy["type"] = one;
                alts += (alts.empty() ? "" : " | ") + value(copy, where);
            }
            return "(" + alts + ")";
        }
        if (!t.is_string()) throw Exception(ErrorCode::InvalidArgument, "JSON schema at " + where + ": type must be a string");
        const std::string type = t.get<std::string>();
        if (type == "string") return "string";
        if (type == "number") return "number";
        if (type == "integer") return "integer";
        if (type == "boolean") return "(\"true\" | \"false\")";
        if (type == "null") return "\"null\"";
        const std::string name = "r" + std::to_string(++n);
        if (type == "array") {
            const std::string item = s.contains("items") ? value(s["items"], where + "/items") : "value";
            rules += name + " ::= \"[\" ws (" + item + " (\",\" ws " + item + ")*)? \"]\"\n";
            return name;
        }
        if (type == "object") {
            if (!s.contains("properties")) {
                rules += name + " ::= \"{\" ws (string \":\" ws value (\",\" ws string \":\" ws value)*)? \"}\"\n";
                return name;
            }
            std::string body;
            for (const auto& [key, sub] : s["properties"].items()) {
                if (!body.empty()) body += " \",\" ws ";
                body += lit(json(key).dump()) + " \":\" ws " + value(sub, where + "/properties/" + key);
            }
            rules += name + " ::= \"{\" ws " + (body.empty() ? "" : body + " ") + "\"}\"\n";
            return name;
        }
        throw Exception(ErrorCode::InvalidArgument, "JSON schema at " + where + ": unknown type '" + type + "'");
    }
};

} // namespace

Expected<std::string> json_schema_to_grammar(std::string_view schema) {
    return catch_to_expected([&] {
        json s;
        try {
            s = json::parse(schema);
        } catch (const json::parse_error& e) {
            throw Exception(ErrorCode::InvalidArgument, std::string("the JSON schema is not JSON: ") + e.what());
        }
        Builder b;
        const std::string root = b.value(s, "#");
        return "root ::= " + root + "\n" + b.rules +
               "value   ::= string | number | \"true\" | \"false\" | \"null\" | array | object\n"
               "array   ::= \"[\" ws (value (\",\" ws value)*)? \"]\"\n"
               "object  ::= \"{\" ws (string \":\" ws value (\",\" ws string \":\" ws value)*)? \"}\"\n"
               "string  ::= \"\\\"\" ([^\"\\\\\\x00-\\x1f] | \"\\\\\" [\"\\\\/bfnrt])* \"\\\"\"\n"
               "number  ::= integer (\".\" [0-9]+)? ([eE] [-+]? [0-9]+)?\n"
               "integer ::= \"-\"? (\"0\" | [1-9] [0-9]*)\n"
               "ws      ::= \" \"?\n";
    });
}

} // namespace sigmaops::llm
