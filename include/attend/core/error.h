// attend::Error: the one exception type of the library.
// Messages start with "[op_name]" and name the offending shapes, e.g.
//   "[matmul] inner dimensions differ: a [2, 3] vs b [4, 5]".
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>

namespace attend {

class Error : public std::runtime_error {
 public:
  Error(std::string_view op, const std::string& what) : std::runtime_error(format(op, what)), op_(op) {}
  const std::string& op() const { return op_; }

 private:
  static std::string format(std::string_view op, const std::string& what) {
    std::string m;
    m.reserve(op.size() + what.size() + 3);
    m.push_back('[');
    m.append(op);
    m.append("] ");
    m.append(what);
    return m;
  }
  std::string op_;
};

namespace detail {
template <typename... Args>
std::string concat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
}  // namespace detail

// Throws attend::Error("[op] " + message) when `cond` is false. Used for every check of user
// input; never compiled out (unlike assert).
#define ATTEND_CHECK(cond, op, ...)                                      \
  do {                                                                   \
    if (!(cond)) throw ::attend::Error((op), ::attend::detail::concat(__VA_ARGS__)); \
  } while (0)

}  // namespace attend
