#include "imap/response_parser.h"

#include <algorithm>
#include <cstring>
#include <utility>

namespace himalaya::imap {
namespace {

// Deeper than any FETCH or FLAGS a watcher sees (BODYSTRUCTURE nests a few
// levels per MIME part); a bound keeps hostile input cheap.
constexpr int max_nesting = 64;

bool is_atom_char(unsigned char c) {
  if (c <= 0x20 || c >= 0x7f) {
    return false;
  }
  return std::strchr("(){%*\"\\]", c) == nullptr;
}

// ASTRING-CHAR but "+" (RFC 3501's tag): atom chars and "]".
bool is_tag_char(unsigned char c) {
  return c != '+' && (is_atom_char(c) || c == ']');
}

std::string upper(std::string s) {
  for (char& c : s) {
    if (c >= 'a' && c <= 'z') {
      c = static_cast<char>(c - 'a' + 'A');
    }
  }
  return s;
}

std::string printable(const std::string& s) {
  std::string out;
  for (unsigned char c : s.substr(0, 40)) {
    out += c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '?';
  }
  return s.size() > 40 ? out + "..." : out;
}

// A read position in one response line.
class Cursor {
 public:
  explicit Cursor(const std::string& line) : line_(line) {}

  bool at_end() const { return pos_ == line_.size(); }
  bool peek(char c) const { return pos_ < line_.size() && line_[pos_] == c; }
  bool skip(char c) {
    if (!peek(c)) {
      return false;
    }
    ++pos_;
    return true;
  }
  template <class Pred>
  std::string take_while(Pred pred) {
    const std::size_t from = pos_;
    while (pos_ < line_.size() && pred(static_cast<unsigned char>(line_[pos_]))) {
      ++pos_;
    }
    return line_.substr(from, pos_ - from);
  }
  std::string rest() {
    std::string r = line_.substr(pos_);
    pos_ = line_.size();
    return r;
  }
  std::size_t pos() const { return pos_; }
  const std::string& line() const { return line_; }

 private:
  const std::string& line_;
  std::size_t pos_ = 0;
};

std::optional<std::uint32_t> to_number(const std::string& digits) {
  if (digits.empty() || digits.size() > 10) {
    return std::nullopt;
  }
  std::uint64_t n = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (n > UINT32_MAX) {
    return std::nullopt;
  }
  return static_cast<std::uint32_t>(n);
}

std::vector<std::string> split_atoms(const std::string& text) {
  std::vector<std::string> atoms;
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t end = text.find(' ', i);
    const std::size_t stop = end == std::string::npos ? text.size() : end;
    if (stop > i) {
      atoms.push_back(upper(text.substr(i, stop - i)));
    }
    i = stop + 1;
  }
  return atoms;
}

// A parenthesised list running to the end of the line (FETCH's msg-att,
// FLAGS): parentheses balance outside quoted strings, quoted strings end.
std::optional<Error> check_list(Cursor& in, const char* what) {
  if (!in.skip('(')) {
    return Error{std::string(what) + " without a parenthesised list"};
  }
  int depth = 1;
  bool quoted = false;
  const std::string& line = in.line();
  for (std::size_t i = in.pos(); i < line.size(); ++i) {
    const char c = line[i];
    if (depth == 0) {
      return Error{std::string("text after the end of ") + what};
    }
    if (quoted) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        quoted = false;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == '(') {
      if (++depth > max_nesting) {
        return Error{std::string(what) + " nests too deep"};
      }
    } else if (c == ')') {
      --depth;
    }
  }
  if (quoted) {
    return Error{std::string("unterminated quoted string in ") + what};
  }
  if (depth != 0) {
    return Error{std::string("unbalanced parentheses in ") + what};
  }
  in.rest();
  return std::nullopt;
}

std::optional<Response::Status> status_word(const std::string& word) {
  if (word == "OK")
    return Response::Status::ok;
  if (word == "NO")
    return Response::Status::no;
  if (word == "BAD")
    return Response::Status::bad;
  if (word == "PREAUTH")
    return Response::Status::preauth;
  if (word == "BYE")
    return Response::Status::bye;
  return std::nullopt;
}

// resp-text: ["[" resp-text-code "]" SP] text. The space before it was read.
std::optional<Error> parse_resp_text(Cursor& in, Response& r) {
  if (in.skip('[')) {
    r.code = upper(in.take_while(is_atom_char));
    if (r.code.empty()) {
      return Error{"empty response code"};
    }
    if (in.skip(' ')) {
      r.code_text = in.take_while([](unsigned char c) { return c != ']'; });
    }
    if (!in.skip(']')) {
      return Error{"response code [" + printable(r.code) + " not closed by ]"};
    }
    if (r.code == "CAPABILITY") {
      r.capabilities = split_atoms(r.code_text);
    }
    in.skip(' ');
  }
  r.text = in.rest();
  return std::nullopt;
}

Result<Response> parse_untagged(Cursor& in) {
  Response r;
  const std::string first = in.take_while(is_atom_char);
  if (first.empty()) {
    return Error{"untagged response without a name: " + printable(in.line())};
  }
  if (first[0] >= '0' && first[0] <= '9') {
    r.kind = Response::Kind::data;
    auto n = to_number(first);
    if (!n) {
      return Error{"bad message number " + printable(first)};
    }
    r.number = *n;
    if (!in.skip(' ')) {
      return Error{"message number without a name: " + printable(in.line())};
    }
    const std::string name = upper(in.take_while(is_atom_char));
    if (name == "EXISTS" || name == "EXPUNGE" || name == "RECENT") {
      r.data = name == "EXISTS"    ? Response::Data::exists
               : name == "EXPUNGE" ? Response::Data::expunge
                                   : Response::Data::recent;
      if (!in.at_end()) {
        return Error{"text after " + name + ": " + printable(in.line())};
      }
    } else if (name == "FETCH") {
      r.data = Response::Data::fetch;
      if (!in.skip(' ')) {
        return Error{"FETCH without its data"};
      }
      if (auto e = check_list(in, "FETCH")) {
        return *e;
      }
    } else if (name.empty()) {
      return Error{"message number without a name: " + printable(in.line())};
    } else {
      r.data = Response::Data::other;
      in.rest();
    }
    return r;
  }
  const std::string name = upper(first);
  if (auto status = status_word(name)) {
    r.kind = Response::Kind::status;
    r.status = *status;
    if (!in.at_end() && !in.skip(' ')) {
      return Error{"no space after " + name};
    }
    if (auto e = parse_resp_text(in, r)) {
      return *e;
    }
    return r;
  }
  r.kind = Response::Kind::data;
  if (name == "CAPABILITY") {
    r.data = Response::Data::capability;
    r.capabilities = split_atoms(in.rest());
  } else if (name == "FLAGS") {
    r.data = Response::Data::flags;
    if (!in.skip(' ')) {
      return Error{"FLAGS without its list"};
    }
    if (auto e = check_list(in, "FLAGS")) {
      return *e;
    }
  } else {
    r.data = Response::Data::other;  // LIST, SEARCH, ENABLED, ID, ...: not ours
    in.rest();
  }
  return r;
}

}  // namespace

Result<Response> parse_response(const std::string& line) {
  Cursor in(line);
  if (in.skip('+')) {
    Response r;
    r.kind = Response::Kind::continuation;
    in.skip(' ');
    r.text = in.rest();
    return r;
  }
  if (in.skip('*')) {
    if (!in.skip(' ')) {
      return Error{"no space after *: " + printable(line)};
    }
    return parse_untagged(in);
  }
  Response r;
  r.kind = Response::Kind::tagged;
  r.tag = in.take_while(is_tag_char);
  if (r.tag.empty()) {
    return Error{"response without a tag: " + printable(line)};
  }
  if (!in.skip(' ')) {
    return Error{"no space after the tag: " + printable(line)};
  }
  const std::string word = upper(in.take_while(is_atom_char));
  auto status = status_word(word);
  if (!status || *status == Response::Status::preauth || *status == Response::Status::bye) {
    return Error{"tagged response is not OK, NO or BAD: " + printable(line)};
  }
  r.status = *status;
  if (!in.at_end() && !in.skip(' ')) {
    return Error{"no space after " + word};
  }
  if (auto e = parse_resp_text(in, r)) {
    return *e;
  }
  return r;
}

ResponseParser::ResponseParser(Limits limits) : limits_(limits) {}

void ResponseParser::feed(const char* data, std::size_t size) {
  if (error_) {
    return;  // spent: keep nothing more
  }
  buffer_.append(data, size);
}

Result<std::optional<Response>> ResponseParser::fail(std::string reason) {
  error_ = Error{std::move(reason)};
  buffer_.clear();
  buffer_.shrink_to_fit();
  line_.clear();
  start_ = 0;
  scanned_ = 0;
  return *error_;
}

void ResponseParser::compact() {
  if (start_ > 0 && start_ * 2 >= buffer_.size()) {
    buffer_.erase(0, start_);
    start_ = 0;
  }
}

Result<std::optional<Response>> ResponseParser::next() {
  if (error_) {
    return *error_;
  }
  for (;;) {
    if (literal_left_ > 0) {
      const std::size_t n = std::min(literal_left_, buffer_.size() - start_);
      start_ += n;
      literal_left_ -= n;
      if (literal_left_ > 0) {
        compact();
        return std::optional<Response>();
      }
    }
    const std::size_t from = start_ + scanned_;
    const std::size_t lf = buffer_.find('\n', from);
    if (lf == std::string::npos) {
      scanned_ = buffer_.size() - start_;
      // A last CR may be the line's own, its LF still to come: not counted,
      // so that a line of max_line bytes passes however it is split.
      const std::size_t pending = scanned_ - (scanned_ > 0 && buffer_.back() == '\r' ? 1 : 0);
      if (line_.size() + pending > limits_.max_line) {
        return fail("response longer than " + std::to_string(limits_.max_line) + " bytes");
      }
      compact();
      return std::optional<Response>();
    }
    scanned_ = 0;
    if (lf == start_ || buffer_[lf - 1] != '\r') {
      return fail("line ends in LF without CR");
    }
    const std::size_t length = lf - 1 - start_;
    if (line_.size() + length > limits_.max_line) {
      return fail("response longer than " + std::to_string(limits_.max_line) + " bytes");
    }
    const char* segment = buffer_.data() + start_;
    if (std::memchr(segment, '\0', length) != nullptr) {
      return fail("NUL byte in a response");
    }
    if (std::memchr(segment, '\r', length) != nullptr) {
      return fail("CR without LF in a response");
    }
    line_.append(segment, length);
    start_ = lf + 1;

    // A line ending in "{n}" continues after n bytes of literal.
    if (!line_.empty() && line_.back() == '}') {
      const std::size_t open = line_.rfind('{');
      if (open != std::string::npos) {
        const std::string digits = line_.substr(open + 1, line_.size() - open - 2);
        bool all_digits = !digits.empty();
        for (char c : digits) {
          all_digits = all_digits && c >= '0' && c <= '9';
        }
        if (all_digits) {
          if (digits.size() > 10 || std::stoull(digits) > limits_.max_literal) {
            return fail("literal of " + printable(digits) + " bytes is over the limit of " +
                        std::to_string(limits_.max_literal));
          }
          literal_left_ = static_cast<std::size_t>(std::stoull(digits));
          continue;
        }
      }
    }
    auto parsed = parse_response(line_);
    line_.clear();
    compact();
    if (!parsed) {
      return fail(parsed.error().message);
    }
    return std::optional<Response>(std::move(parsed.value()));
  }
}

}  // namespace himalaya::imap
