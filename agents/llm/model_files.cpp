// model_files.cpp - where models are looked for and which one is taken (llm.h).
#include <llm/llm.h>

#include <base/paths.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

namespace fs = std::filesystem;

namespace sigmaops::llm {

std::vector<std::string> model_search_paths() {
    std::vector<std::string> out;
    if (const char* env = std::getenv("SIGMAOPS_MODEL"); env && *env) out.push_back(env);
    out.push_back(AppPaths::resolve().data_dir + "/models");
    out.push_back(SIGMAOPS_SOURCE_MODELDIR);   // the shipped model (resources/models)
    out.push_back(SIGMAOPS_INSTALL_MODELDIR);
    out.push_back(SIGMAOPS_BUILD_MODELDIR);    // the development model the build writes
    return out;
}

Expected<std::string> find_model(const std::string& explicit_path) {
    if (!explicit_path.empty()) {
        std::error_code ec;
        if (!fs::is_regular_file(explicit_path, ec))
            return unexpected(ErrorCode::NotFound, "model file " + explicit_path + " not found (or not a regular file)");
        return explicit_path;
    }
    // A model asked for by name ($SIGMAOPS_MODEL) that is not there is an error: falling back to
    // another model would answer with one the user did not choose.
    if (const char* env = std::getenv("SIGMAOPS_MODEL"); env && *env) {
        std::error_code ec;
        const bool dir = fs::is_directory(env, ec);
        bool has_gguf = false;
        if (dir)
            for (const auto& e : fs::directory_iterator(env, ec))
                if (e.is_regular_file(ec) && e.path().extension() == ".gguf") has_gguf = true;
        if (!fs::is_regular_file(env, ec) && !has_gguf)
            return unexpected(ErrorCode::NotFound, std::string("SIGMAOPS_MODEL=") + env +
                                                       (dir ? ": no .gguf file in this directory" : ": no such model file") +
                                                       " (unset it to use the default model)");
    }
    std::string looked;
    for (const std::string& p : model_search_paths()) {
        looked += "\n  " + p;
        std::error_code ec;
        if (fs::is_regular_file(p, ec)) return p;
        if (!fs::is_directory(p, ec)) continue;
        std::vector<std::string> found;
        for (const auto& e : fs::directory_iterator(p, ec))
            if (e.is_regular_file(ec) && e.path().extension() == ".gguf") found.push_back(e.path().string());
        if (!found.empty()) {
            std::sort(found.begin(), found.end());
            return found.front();
        }
    }
    return unexpected(ErrorCode::NotFound,
                      "no model found. Looked in:" + looked +
                          "\nPass one with -m FILE.gguf (or --model), set SIGMAOPS_MODEL=FILE, "
                          "or copy a .gguf file into the first directory above.");
}

} // namespace sigmaops::llm
