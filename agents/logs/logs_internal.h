// logs_internal.h - helpers shared by the files of agents/logs (private to the module and its
// tests): calendar arithmetic, the one-line JSON scanner, and the continuation-line rules.
#pragma once

#include <logs/logs.h>

#include <functional>

namespace sigmaops::logs::detail {

// Days since 1970-01-01 of a proleptic Gregorian date; the year of a UTC time in ms.
std::int64_t days_from_civil(int y, unsigned m, unsigned d);
int year_of(std::int64_t utc_ms);
// TimeContext::now_ms, or the clock when it is 0.
std::int64_t now_or(const TimeContext& t);

// Calls on_member(key, value, is_string) for each member of the top-level JSON object `s`
// (string values without their quotes and still escaped; other values raw). False when `s` is
// not one well-formed object.
bool json_members(std::string_view s, const std::function<void(std::string_view, std::string_view, bool)>& on_member);
// Decodes a JSON string body (escapes, \uXXXX with surrogate pairs) into UTF-8.
void json_unescape(std::string_view raw, std::string& out);
// The index after the closing quote of the quoted string starting at line[i], or npos.
std::size_t skip_request(std::string_view line, std::size_t i);

// Whether a line without a header continues the record before it: indented lines, Java's
// "at ..."/"Caused by: ..."/"... N more", Python's traceback lines. `in_trace` says the record
// is already a stack trace (then "pkg.SomeError: text" closes it as a continuation too).
bool is_continuation(std::string_view line, bool in_trace);
// Whether a line starts a stack trace ("Traceback (most recent call last):", "Exception in thread").
bool starts_trace(std::string_view line);

// "journal", "journal:FILE|DIR", then ":UNIT,UNIT" when units are filtered (journal_source's name).
std::string journal_source_name(const JournalQuery& query);

} // namespace sigmaops::logs::detail
