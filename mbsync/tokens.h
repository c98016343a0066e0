// One line of an mbsync configuration, split into words the way mbsync does.
//
// mbsync's rules (mbsync(1), CONFIGURATION; checked against mbsync 1.4.4):
// - words are separated by white space; '\r' counts as white space, so files
//   with CRLF line ends read the same;
// - a word that *begins* with '#' starts a comment that runs to the end of the
//   line ("Host a # note" is Host a); a '#' inside a word is literal;
// - a double quote switches quoting on and off anywhere in a word and is not
//   part of it, so `"a b"`, `a" "b` and `"a b` + `"` all mean "a b"; quoted
//   white space does not end the word;
// - a backslash takes the next character literally (`\"`, `\\`, `\#`);
// - an unclosed quote, or a backslash at the end of the line, is an error.
// A line with no words ends the current section; a line holding only a
// comment does not (mbsync skips it entirely), which is why the two are told
// apart here.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace himalaya::mbsync {

struct LineWords {
  std::vector<std::string> words;  // empty: a blank or comment-only line
  bool comment_only = false;       // the line held a comment and nothing else
};

// The words of `line` (without its '\n'), or the reason it is malformed.
common::Result<LineWords, std::string> split_line(std::string_view line);

}  // namespace himalaya::mbsync
