// cmd_chat.cpp - `sigmaops chat` (the default): the terminal chat on the shared ChatService.
// The main thread reads lines (lineedit.h: libedit on a terminal, plain lines from a pipe); a
// reply streams while a watcher turns Ctrl-C into cancel(). Text from the model, logs and
// commands reaches the screen through SafeText (escape sequences removed).
#include "commands.h"
#include "common.h"
#include "lineedit.h"

#include <base/paths.h>
#include <base/text.h>
#include <chat/chat.h>
#include <commands/commands.h>
#include <history/history.h>

#include <algorithm>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <unistd.h>

namespace sigmaops::cli {

namespace {

constexpr const char* k_chat_commands =
    "/new, /history, /resume ID, /cmd, /run, /explain, /diagnose, /tune, /hosts, /model, /help, /quit";

// What Tab completes at the start of a line.
const std::vector<std::string> k_completions = {"/cmd",   "/diagnose", "/exit",  "/explain", "/help",   "/history",
                                                "/hosts", "/model",    "/new",   "/quit",    "/resume", "/run",
                                                "/tune"};

void print_chat_help(std::ostream& out) {
    out << "commands: /new (new conversation), /history [TEXT] (recent sessions, or search them), /resume ID, /quit\n"
           "  /cmd [@HOST] REQUEST   propose a command for REQUEST; run it only if you confirm\n"
           "  /run [@HOST] COMMAND   run your own COMMAND after the same confirmation\n"
           "  /explain COMMAND       each word and flag of COMMAND and its risk (as `sigmaops explain`)\n"
           "  /diagnose FILE...      what went wrong in these logs (as `sigmaops diagnose`), kept in this session\n"
           "  /tune SERVICE ARGS...  recommend settings (as `sigmaops tune`: --host H [--apply], --facts, --file)\n"
           "  /hosts                 the hosts /cmd @HOST and /tune --host know (hosts.conf, ~/.ssh/config)\n"
           "  /model                 the model, where it runs and its context\n"
           "A message that asks for a command (\"find files larger than 1GB under /var\", \"how do I ...\")\n"
           "goes to the command agent as /cmd does; start a line with // to send it to the chat model.\n"
           "Tab completes a command, Up/Down recall earlier lines; Ctrl-C stops a reply or a running command\n"
           "(at a confirmation: nothing runs); Ctrl-C twice at the prompt, Ctrl-D or /quit leaves.\n";
}

// Every shell command shown in a model answer, after the answer: its risk and reasons on one line,
// marked when it does not parse or names a program this machine lacks (agents/commands
// annotate_answer; the context is probed once and cached in history).
void print_shown_commands(std::ostream& out, const std::string& answer, const std::string& db, bool color) {
    std::vector<commands::ShownCommand> shown = commands::annotate_answer(answer, nullptr);
    if (shown.empty()) return;
    std::vector<std::string> programs;
    for (const auto& s : shown) programs.insert(programs.end(), s.assessment.programs.begin(), s.assessment.programs.end());
    std::unique_ptr<history::History> h;
    if (db != ":none")
        if (auto opened = history::History::open(db)) h = std::move(*opened);
    auto ctx = commands::target_context(commands::local_probe(), h.get(), "", programs);
    if (ctx) shown = commands::annotate_answer(answer, &*ctx);
    out << "commands in this answer (not run; /run COMMAND to run one after confirming):\n";
    for (const auto& s : shown) {
        // Line by line: visible() would show a here-doc's newlines as "\n".
        std::string text;
        for (std::size_t from = 0;;) {
            const std::size_t nl = s.text.find('\n', from);
            text += (from ? "\n    " : "") + commands::visible(std::string_view(s.text).substr(from, nl - from));
            if (nl == std::string::npos) break;
            from = nl + 1;
        }
        const std::string_view risk = shell::risk_name(s.assessment.risk);
        out << "  $ " << text << "\n    risk: " << (color ? colored_risk(risk) : std::string(risk));
        std::string reasons;
        for (const shell::Reason& r : s.assessment.reasons)
            reasons += (reasons.empty() ? "" : "; ") + commands::visible(r.word) + ": " + commands::visible(r.why);
        if (!reasons.empty()) out << " (" << reasons << ")";
        out << "\n";
        if (s.parse_error)
            out << "    does not parse: " << commands::visible(s.parse_error->message) << " at offset " << s.parse_error->offset << "\n";
        for (const std::string& m : s.missing_programs) out << "    " << commands::visible(m) << ": program not found on localhost\n";
    }
    if (!ctx) out << "    (programs not checked: " << ctx.error().message << ")\n";
}

// /model: the model, where it runs, its context and the sampling in use.
void print_model(std::ostream& out, const llm::ModelCard& card, const ChatOptions& opt) {
    const int n_ctx = opt.context.n_ctx ? opt.context.n_ctx : int(std::min<uint32_t>(card.n_ctx_train ? card.n_ctx_train : 4096, 4096));
    const llm::EngineInfo e = llm::engine_info();
    std::ostringstream o;
    o << "model:    " << card.display_name() << "\n"
      << "file:     " << card.path << "\n"
      << "arch:     " << card.architecture << ", " << card.n_params << " parameters, " << human_bytes(double(card.weight_bytes))
      << ", chat format " << card.chat_format << "\n";
    for (const auto& [key, value] : card.details)   // the model's own Jinja template or why not (a local model)
        if (key == "chat template") o << "template: " << value << "\n";
    o << "device:   " << card.backend << (card.backend == "cpu" ? " (" + e.cpu_features + ")" : std::string()) << "\n"
      << "context:  " << n_ctx << " tokens (trained for " << card.n_ctx_train << ")"
      << (opt.context.sliding_window ? ", sliding window" : "") << "\n"
      << "sampling: temperature " << opt.sampling.temperature << ", top-k " << opt.sampling.top_k << ", top-p "
      << opt.sampling.top_p << ", at most " << opt.sampling.max_tokens << " tokens a reply\n";
    out << o.str();
}

int run_chat(const Invocation& c) {
    c.args.at_most(0);
    ChatOptions opt;
    opt.sampling = sampling_from(c.args);
    opt.context = context_from(c.args);
    if (c.args.has("--system")) opt.system_prompt = c.args.get("--system");
    const std::string db = history_path(c.args);
    opt.history_db = c.args.has("--no-history") ? ":none" : db;
    const int64_t resume = c.args.get_int("--resume", 0, 1, INT64_MAX);
    auto model = load_model(c.args, c.io);
    if (!model) return k_exit_failure;
    auto svc = ChatService::create(model, opt);
    if (!svc) {
        c.io.err << "sigmaops: " << svc.error().message << "\n";
        if (svc.error().code == ErrorCode::BadFile)
            c.io.err << "The history file is damaged. Move it aside with:\n  sigmaops history move-aside --history '" << db
                     << "'\nor run with --no-history.\n";
        return k_exit_failure;
    }
    ChatService& chat = **svc;
    if (resume) {
        if (auto r = chat.resume(resume); !r) {
            c.io.err << "sigmaops: " << r.error().message << "\n";
            return k_exit_failure;
        }
    }
    const llm::ModelCard& card = chat.model_card();
    // Input: libedit on a terminal (history in the data directory unless --no-history), plain
    // lines from a pipe. Output from the model, logs and commands goes through SafeText.
    LineEditorOptions eo;
    if (opt.history_db != ":none") eo.history_file = chat_input_history_path();
    eo.completions = k_completions;
    LineEditor editor(c.io, eo);
    const bool color = color_wanted(c.io);
    // The chat's model options, so that /cmd and /diagnose use the model this process holds.
    auto add_model_args = [&](std::vector<std::string>& argv) {
        for (const char* f : {"--model", "--device", "--threads"})
            if (c.args.has(f)) argv.insert(argv.end(), {f, c.args.get(f)});
    };
    // Runs a command of the table with its output made safe for the screen.
    auto run_safe = [&](const std::vector<std::string>& argv) {
        SafeText safe(c.io.out, color);
        Io sio{c.io.in, safe, c.io.err};
        const int rc = dispatch(sigmaops_command(), argv, sio);
        safe.finish();
        return rc;
    };
    {
        SafeText safe(c.io.out, false);
        safe << "SigmaOps " << app_version() << " - model " << card.display_name() << " (" << card.architecture << ", "
             << human_bytes(double(card.weight_bytes)) << ", " << card.backend << ")\n";
    }
    if (opt.history_db != ":none") c.io.out << "history: " << db << "\n";
    // A history file that cannot be read or written is said once, not after every line.
    std::string said_note = editor.history_note();
    if (!said_note.empty()) c.io.err << "sigmaops: " << said_note << "\n";
    print_chat_help(c.io.out);
    {
        SafeText safe(c.io.out, false);
        for (const auto& m : chat.conversation())
            if (m.role != "system") safe << (m.role == "user" ? "you> " : "sigma> ") << m.content << "\n";
    }
    std::string line;
    bool leaving = false;   // Ctrl-C at the prompt once: a second one leaves
    for (;;) {
        const LineEditor::Input in = editor.read("you> ");
        if (in.status == LineEditor::Status::End) { c.io.out << "\n"; break; }
        if (in.status == LineEditor::Status::Interrupted) {
            if (leaving) { c.io.out << "\n"; break; }
            c.io.out << "\n(Ctrl-C again or Ctrl-D to leave)\n";
            leaving = true;
            continue;
        }
        leaving = false;
        // Ctrl-C while this line is handled stops a reply or a running command, or leaves a
        // confirmation unanswered (nothing runs); one never ends the chat.
        InterruptScope ctrl_c;
        line = in.text;
        // Tab completion leaves a space after a command ("/model "): trailing blanks go.
        line.erase(line.find_last_not_of(" \t") + 1);
        if (line.empty()) continue;
        if (!editor.interactive()) c.io.out << line << "\n";
        editor.remember(line);
        if (editor.history_note() != said_note && !editor.history_note().empty())
            c.io.err << "sigmaops: " << editor.history_note() << " (lines are still kept for this session)\n";
        said_note = editor.history_note();
        if (line == "/quit" || line == "/exit") break;
        if (line == "/help") { print_chat_help(c.io.out); continue; }
        if (line == "/new") { chat.new_conversation(); c.io.out << "(new conversation)\n"; continue; }
        if (line == "/model") {
            SafeText safe(c.io.out, false);
            print_model(safe, card, opt);
            continue;
        }
        // /hosts: the host profiles agents/remote knows (hosts.conf and ~/.ssh/config), as `sigmaops hosts list`.
        if (line == "/hosts") {
            std::ostringstream listed, errs;
            Io hio{c.io.in, listed, errs};
            dispatch(sigmaops_command(), {"hosts", "list"}, hio);
            SafeText safe(c.io.out, false);
            if (listed.str().empty() && errs.str().empty())
                safe << "no hosts known yet: add one with `sigmaops hosts add NAME --hostname HOST`, or a Host entry in ~/.ssh/config\n";
            safe << listed.str() << errs.str();
            continue;
        }
        // /history: recent sessions; /history TEXT: a full-text search of everything recorded.
        if (line == "/history" || line.rfind("/history ", 0) == 0) {
            if (opt.history_db == ":none") { c.io.out << "history is off (--no-history)\n"; continue; }
            std::vector<std::string> argv{"history", "list"};
            std::istringstream words(line.substr(8));
            std::vector<std::string> text;
            for (std::string w; words >> w;) text.push_back(w);
            if (!text.empty()) {
                argv = {"history", "search"};
                argv.insert(argv.end(), text.begin(), text.end());
            }
            argv.insert(argv.end(), {"--history", db});
            run_safe(argv);
            continue;
        }
        if (line == "/resume" || line.rfind("/resume ", 0) == 0) {
            const std::string arg = line.size() > 8 ? line.substr(8) : "";
            long long id = 0;
            std::size_t used = 0;
            try { id = std::stoll(arg, &used); } catch (...) { used = 0; }
            if (arg.empty() || used != arg.size() || id < 1) {
                c.io.out << "usage: /resume ID, with ID a session number from /history\n";
                continue;
            }
            if (auto r = chat.resume(id); !r) c.io.out << "cannot resume: " << r.error().message << "\n";
            else c.io.out << "(resumed session " << id << ", " << chat.conversation().size() << " messages)\n";
            continue;
        }
        // /cmd [@HOST] REQUEST and /run [@HOST] COMMAND: the command agent, as `sigmaops cmd ... --run`
        // (the same proposal, terminal confirmation and run), recorded in this conversation.
        if (line == "/cmd" || line == "/run" || line.rfind("/cmd ", 0) == 0 || line.rfind("/run ", 0) == 0) {
            const bool own = line.rfind("/run", 0) == 0;
            auto ltrim = [](std::string t) { return t.erase(0, std::min(t.size(), t.find_first_not_of(" \t"))); };
            std::string rest = ltrim(line.substr(4)), host;
            const bool at = !rest.empty() && rest[0] == '@';
            if (at) {
                const std::size_t sp = std::min(rest.size(), rest.find_first_of(" \t"));
                host = rest.substr(1, sp - 1);
                rest = ltrim(rest.substr(sp));
            }
            if (rest.empty() || (at && host.empty())) {
                c.io.out << (own ? "usage: /run [@HOST] COMMAND\n" : "usage: /cmd [@HOST] REQUEST\n");
                continue;
            }
            if (opt.history_db == ":none") {
                c.io.out << "/cmd and /run need the history (every run is recorded); --no-history is on\n";
                continue;
            }
            std::vector<std::string> argv{"cmd"};
            if (own) argv.insert(argv.end(), {"--command", rest});
            else argv.push_back(rest);
            if (!host.empty()) argv.insert(argv.end(), {"--host", host});
            if (!own) add_model_args(argv);
            argv.insert(argv.end(), {"--run", "--history", db});
            if (chat.session_id() > 0) argv.insert(argv.end(), {"--session", std::to_string(chat.session_id())});
            run_safe(argv);
            continue;
        }
        // /explain COMMAND: the knowledge agent's explanation, as `sigmaops explain COMMAND`.
        if (line == "/explain" || line.rfind("/explain ", 0) == 0) {
            const std::size_t at = std::min(line.size(), line.find_first_not_of(" \t", 8));
            if (at >= line.size()) {
                c.io.out << "usage: /explain COMMAND\n";
                continue;
            }
            run_safe({"explain", line.substr(at)});
            continue;
        }
        // /diagnose FILE...: the log agent, as `sigmaops diagnose FILE...`; the report and its findings
        // are stored in this conversation's session (one is started if there is none yet).
        if (line == "/diagnose" || line.rfind("/diagnose ", 0) == 0) {
            std::vector<std::string> argv{"diagnose"};
            std::istringstream words(line.substr(9));
            for (std::string w; words >> w;) argv.push_back(w);
            if (argv.size() == 1) {
                c.io.out << "usage: /diagnose FILE... (log files, plain or .gz)\n";
                continue;
            }
            std::string files;
            for (std::size_t i = 1; i < argv.size(); ++i) files += (i > 1 ? " " : "") + argv[i];
            if (opt.history_db == ":none") {
                argv.push_back("--no-history");
            } else {
                if (chat.session_id() == 0) {
                    auto h = history::History::open(db);
                    auto id = h ? (*h)->create_session(("diagnose " + files).substr(0, 60), card.display_name(), "localhost")
                                : Expected<history::Id>(unexpected(h.error()));
                    if (!id || !chat.resume(*id)) {
                        c.io.out << "cannot start a session for the report: " << (id ? "resume failed" : id.error().message) << "\n";
                        continue;
                    }
                }
                argv.insert(argv.end(), {"--history", db, "--session", std::to_string(chat.session_id())});
            }
            add_model_args(argv);
            run_safe(argv);
            continue;
        }
        // /tune SERVICE [--host H [--apply] | --facts ... | --file PATH ...]: the config agent, as
        // `sigmaops tune SERVICE ...` with the chat's history; --apply asks hunk by hunk on the
        // terminal exactly as the command does (no confirmation is skipped).
        if (line == "/tune" || line.rfind("/tune ", 0) == 0) {
            std::vector<std::string> argv{"tune"};
            std::istringstream words(line.substr(5));
            for (std::string w; words >> w;) argv.push_back(w);
            if (argv.size() == 1) {
                c.io.out << "usage: /tune SERVICE [--host H [--apply] | --facts KEY=VALUE,... | --file PATH] (services: "
                            "postgres, sshd, nginx, redis, sysctl; /tune SERVICE --help for the options)\n";
                continue;
            }
            const bool on_host = std::find(argv.begin(), argv.end(), "--host") != argv.end() ||
                                 std::find(argv.begin(), argv.end(), "--hosts") != argv.end();
            const bool has_history = std::find(argv.begin(), argv.end(), "--history") != argv.end();
            if (opt.history_db == ":none") {
                if (on_host) {
                    c.io.out << "/tune --host needs the history (facts and every change are recorded); --no-history is on\n";
                    continue;
                }
            } else if (!has_history && argv.size() > 2 && argv[2] != "--help" && argv[2] != "-h") {
                argv.insert(argv.end(), {"--history", db});
            }
            // A change on a host is filed under the chat's session; one is started for it when the
            // chat has stored nothing yet (as /diagnose does).
            if (on_host && !has_history && opt.history_db != ":none" && chat.session_id() == 0) {
                auto host = std::find(argv.begin(), argv.end(), "--host");
                if (host == argv.end()) host = std::find(argv.begin(), argv.end(), "--hosts");
                const std::string where = host + 1 < argv.end() ? *(host + 1) : std::string("localhost");
                auto h = history::History::open(db);
                auto id = h ? (*h)->create_session(("tune " + argv[1] + " on " + where).substr(0, 60), card.display_name(), where)
                            : Expected<history::Id>(unexpected(h.error()));
                if (!id || !chat.resume(*id)) {
                    c.io.out << "cannot start a session for the change: " << (id ? "resume failed" : id.error().message) << "\n";
                    continue;
                }
            }
            if (on_host && chat.session_id() > 0) argv.insert(argv.end(), {"--session", std::to_string(chat.session_id())});
            run_safe(argv);
            continue;
        }
        // A line that is one "/word" and no command (a typo such as "/hsitory"): say so rather
        // than send it to the model. Lines with more ("/var is full", "/etc/fstab") are messages.
        if (line.size() > 1 && line[0] == '/' && line.find_first_of(" \t/", 1) == std::string::npos) {
            c.io.out << "unknown command " << line << " (commands: " << k_chat_commands << ")\n";
            continue;
        }
        // A plain message that asks for a command (commands::asks_for_command) goes through the
        // command agent exactly as "/cmd MESSAGE"; a leading "//" sends the rest to the chat model.
        if (line.rfind("//", 0) == 0) {
            line.erase(0, std::min(line.size(), line.find_first_not_of(" \t", 2)));
            if (line.empty()) continue;
        } else if (opt.history_db != ":none" && commands::asks_for_command(line)) {
            c.io.out << "(asks for a command: sent to the command agent as /cmd; start the line with // to ask the chat model)\n";
            std::vector<std::string> argv{"cmd", line};
            add_model_args(argv);
            argv.insert(argv.end(), {"--run", "--history", db});
            if (chat.session_id() > 0) argv.insert(argv.end(), {"--session", std::to_string(chat.session_id())});
            run_safe(argv);
            continue;
        }
        c.io.out << "sigma> " << std::flush;
        Expected<ChatReply> reply = unexpected(ErrorCode::Cancelled, "not sent");
        {
            // Each piece on the screen as it comes, without the escape sequences a model can write.
            SafeText safe(c.io.out, false);
            Interrupt::while_cancellable([&] { chat.cancel(); }, [&] {
                reply = chat.send(line, [&](std::string_view piece) {
                    safe << piece << std::flush;
                    return true;
                });
            });
        }
        if (!reply) { c.io.out << "\n[error] " << commands::clean_output(reply.error().message) << "\n"; continue; }
        c.io.out << "\n";
        print_shown_commands(c.io.out, reply->text, opt.history_db, color);
        const llm::Usage& u = reply->usage;
        c.io.out << "  [" << u.n_generated << " tokens, " << std::fixed << std::setprecision(1) << u.decode_tps() << " tok/s"
                 << (reply->stop == llm::StopReason::Cancelled ? ", stopped" : "") << "]\n"
                 << std::defaultfloat;
    }
    return k_exit_ok;
}

} // namespace

Command chat_command() {
    Command c;
    c.name = "chat";
    c.summary = "talk with the assistant in the terminal (the default)";
    c.usage = "[-m FILE] [--history FILE | --no-history] [--resume ID]";
    c.flags = concat({model_flags(), context_flags(), sampling_flags(),
                      {history_flag(),
                       {"--no-history", "", "", "keep nothing on disk"},
                       {"--system", "", "TEXT", "system prompt"},
                       {"--resume", "", "ID", "continue session ID"}}});
    c.notes = "In the chat: /new (new conversation), /history (recent sessions), /resume ID, /quit,\n"
              "/cmd [@HOST] REQUEST and /run [@HOST] COMMAND (as `sigmaops cmd`: confirmed on the terminal),\n"
              "/explain COMMAND (as `sigmaops explain`),\n"
              "/diagnose FILE... (as `sigmaops diagnose`, the report kept in the session),\n"
              "/tune SERVICE ... (as `sigmaops tune`, with the chat's history; --apply asks on the terminal).\n"
              "A message that asks for a command goes to the command agent as /cmd does (// first: the chat model).\n"
              "Every shell command in an answer is shown after it with its risk, marked when it does not\n"
              "parse or names a program this machine lacks.\n"
              "/hosts (known hosts), /history [TEXT] (sessions, or a search), /model (model, device, context).\n"
              "On a terminal: line editing, Tab completes commands, Up/Down recall earlier lines (kept in\n"
              "$XDG_DATA_HOME/sigmaops/chat_history, mode 0600, the last 1000; not with --no-history; lines\n"
              "that look like they hold a password, token or key are never kept). Risk levels in colour\n"
              "unless NO_COLOR is set. Escape sequences in text from the model, logs and commands are removed.\n"
              "Ctrl-C stops a reply; Ctrl-C twice at the prompt, Ctrl-D or /quit leaves.";
    c.run = run_chat;
    return c;
}

} // namespace sigmaops::cli
