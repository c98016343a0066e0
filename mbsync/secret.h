// A password read from an mbsync configuration (`Pass`).
//
// SPEC §10: a password stays in memory and never reaches a log, the state
// file, a notification or the status. The type makes that the easy path: it
// has no operator<<, no to_string and no implicit conversion, so a password
// cannot end up in a formatted message by accident. The one way to the text
// is reveal(), named so that every use stands out in review (the IMAP LOGIN
// is the only caller that needs it). redacted() is what debugging output
// shows, and gtest prints the same (PrintTo), so a failing test does not
// print a password either.
#pragma once

#include <iosfwd>
#include <string>
#include <utility>

namespace himalaya::mbsync {

class Secret {
 public:
  Secret() = default;
  explicit Secret(std::string text) : text_(std::move(text)) {}

  // The password itself: for the server, never for a message.
  const std::string& reveal() const { return text_; }
  bool empty() const { return text_.empty(); }
  // What a log or a test failure may show: never the text, nor its length.
  static const char* redacted() { return "<password redacted>"; }

  friend bool operator==(const Secret& a, const Secret& b) { return a.text_ == b.text_; }
  friend bool operator!=(const Secret& a, const Secret& b) { return !(a == b); }

 private:
  std::string text_;
};

// gtest's printer hook (found by argument-dependent lookup).
void PrintTo(const Secret& secret, std::ostream* out);

}  // namespace himalaya::mbsync
