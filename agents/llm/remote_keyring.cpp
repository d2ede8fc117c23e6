// remote_keyring.cpp - where a remote backend's API key comes from (llm.h api_key_for,
// store_api_key, forget_api_key): $SIGMAOPS_API_KEY, else the system keyring through libsecret
// (Debian's libsecret-1, the freedesktop Secret Service client GNOME Keyring and KWallet answer),
// so the key never sits in a settings file, the history, a log or a command line.
#include <llm/llm.h>

#include "remote_http.h"

#include <libsecret/secret.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace sigmaops::llm {

namespace {

const SecretSchema* schema() {
    static const SecretSchema s = {"org.sigmaops.ApiKey",
                                   SECRET_SCHEMA_NONE,
                                   {{"url", SECRET_SCHEMA_ATTRIBUTE_STRING}, {nullptr, SECRET_SCHEMA_ATTRIBUTE_STRING}},
                                   0, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr};
    return &s;
}

// One spelling per endpoint: "http://h:8080", "http://h:8080/" and "http://h:8080/v1" are one.
std::string key_url(std::string url) {
    if (auto e = remote::parse_endpoint(url)) return e->shown;
    while (!url.empty() && url.back() == '/') url.pop_back();
    return url;
}

// A session bus to ask: $DBUS_SESSION_BUS_ADDRESS or $XDG_RUNTIME_DIR/bus. Without one GLib would
// try to autolaunch a bus (X11 only), so the keyring is not asked at all.
bool have_session_bus() {
    if (const char* a = std::getenv("DBUS_SESSION_BUS_ADDRESS"); a && *a) return true;
    const char* run = std::getenv("XDG_RUNTIME_DIR");
    struct stat st{};
    return run && *run && ::stat((std::string(run) + "/bus").c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

// No Secret Service on this machine (no D-Bus session bus, or nothing owns org.freedesktop.secrets).
bool no_service(const GError* e) {
    return e && (e->domain == G_DBUS_ERROR || g_error_matches(e, G_IO_ERROR, G_IO_ERROR_NOT_FOUND) ||
                 g_error_matches(e, G_IO_ERROR, G_IO_ERROR_FAILED) || std::strstr(e->message, "D-Bus") != nullptr ||
                 std::strstr(e->message, "secrets") != nullptr);
}

std::string take_message(GError* e) {
    std::string m = e && e->message ? e->message : "unknown error";
    if (e) g_error_free(e);
    return m;
}

} // namespace

Expected<std::string> api_key_for(const std::string& url) {
    if (const char* env = std::getenv("SIGMAOPS_API_KEY"); env && *env) return std::string(env);
    if (!have_session_bus()) return std::string();
    GError* err = nullptr;
    gchar* pw = secret_password_lookup_sync(schema(), nullptr, &err, "url", key_url(url).c_str(), nullptr);
    if (err) {
        // No keyring at all is common (a server over SSH): then there is simply no stored key.
        if (no_service(err)) {
            g_error_free(err);
            return std::string();
        }
        return unexpected(ErrorCode::Io, "reading the API key for " + url + " from the keyring failed: " + take_message(err));
    }
    if (!pw) return std::string();
    std::string key(pw);
    secret_password_free(pw);   // wipes it
    return key;
}

Expected<void> store_api_key(const std::string& url, std::string_view key) {
    if (key.empty()) return unexpected(ErrorCode::InvalidArgument, "the API key is empty");
    if (!have_session_bus())
        return unexpected(ErrorCode::Unsupported, "no system keyring here: no D-Bus session bus ($DBUS_SESSION_BUS_ADDRESS unset), "
                                                  "so no Secret Service; set $SIGMAOPS_API_KEY in the environment instead");
    const std::string k(key);
    GError* err = nullptr;
    const std::string label = "SigmaOps API key for " + key_url(url);
    const gboolean ok = secret_password_store_sync(schema(), SECRET_COLLECTION_DEFAULT, label.c_str(), k.c_str(), nullptr, &err, "url",
                                                   key_url(url).c_str(), nullptr);
    std::string& wipe = const_cast<std::string&>(k);
    std::fill(wipe.begin(), wipe.end(), '\0');
    if (!ok || err) {
        const bool none = no_service(err);
        const std::string m = take_message(err);
        if (none)
            return unexpected(ErrorCode::Unsupported, "no system keyring (Secret Service) is reachable here (" + m +
                                                          "); set $SIGMAOPS_API_KEY in the environment instead");
        return unexpected(ErrorCode::Io, "storing the API key in the keyring failed: " + m);
    }
    return {};
}

Expected<bool> forget_api_key(const std::string& url) {
    if (!have_session_bus()) return unexpected(ErrorCode::Unsupported, "no system keyring here: no D-Bus session bus");
    GError* err = nullptr;
    const gboolean removed = secret_password_clear_sync(schema(), nullptr, &err, "url", key_url(url).c_str(), nullptr);
    if (err) {
        const bool none = no_service(err);
        const std::string m = take_message(err);
        if (none) return unexpected(ErrorCode::Unsupported, "no system keyring (Secret Service) is reachable here (" + m + ")");
        return unexpected(ErrorCode::Io, "removing the API key from the keyring failed: " + m);
    }
    return removed != FALSE;
}

} // namespace sigmaops::llm
