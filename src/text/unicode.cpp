#include "gtgm/text/unicode.h"

#include <algorithm>
#include <cstdint>
#include <unordered_map>

namespace gtgm::text::unicode {
namespace {

struct CodeRange {
  char32_t first, last;
};
struct ClassRange {
  char32_t first, last;
  int value;
};
/// lower(cp) = cp + delta for cp in [first, last] stepping by `stride`.
struct LowerRun {
  char32_t first, last;
  int stride;
  int delta;
};
/// cp -> a (+ b); `composes`: the pair (a, b) recomposes to cp under NFC. kLowerSpecial reuses it
/// for the multi-code-point lower cases (cp -> a b).
struct Decomposition {
  char32_t cp, a, b;
  int composes;
};

#include "unicode_tables.inc"

template <size_t N>
bool in_ranges(const CodeRange (&table)[N], char32_t cp) {
  const auto it = std::upper_bound(std::begin(table), std::end(table), cp,
                                   [](char32_t c, const CodeRange& r) { return c < r.first; });
  return it != std::begin(table) && cp <= std::prev(it)->last;
}

// Hangul syllables decompose algorithmically (Unicode 3.12).
constexpr char32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr int kLCount = 19, kVCount = 21, kTCount = 28, kNCount = kVCount * kTCount, kSCount = kLCount * kNCount;

const Decomposition* find_decomposition(char32_t cp) {
  const auto it = std::lower_bound(std::begin(kDecompositions), std::end(kDecompositions), cp,
                                   [](const Decomposition& d, char32_t c) { return d.cp < c; });
  return it != std::end(kDecompositions) && it->cp == cp ? &*it : nullptr;
}

void decompose_into(char32_t cp, std::u32string& out) {
  if (cp >= kSBase && cp < kSBase + kSCount) {
    const int s = static_cast<int>(cp - kSBase);
    out.push_back(kLBase + s / kNCount);
    out.push_back(kVBase + (s % kNCount) / kTCount);
    if (s % kTCount != 0) out.push_back(kTBase + s % kTCount);
    return;
  }
  const auto* d = find_decomposition(cp);
  if (d == nullptr) {
    out.push_back(cp);
    return;
  }
  decompose_into(d->a, out);
  if (d->b != 0) decompose_into(d->b, out);
}

const std::unordered_map<uint64_t, char32_t>& composition_map() {
  static const auto map = [] {
    std::unordered_map<uint64_t, char32_t> m;
    for (const auto& d : kDecompositions)
      if (d.composes) m[(static_cast<uint64_t>(d.a) << 32) | d.b] = d.cp;
    return m;
  }();
  return map;
}

/// The primary composite of (a, b), or 0.
char32_t compose_pair(char32_t a, char32_t b) {
  if (a >= kLBase && a < kLBase + kLCount && b >= kVBase && b < kVBase + kVCount)
    return kSBase + ((a - kLBase) * kVCount + (b - kVBase)) * kTCount;
  if (a >= kSBase && a < kSBase + kSCount && (a - kSBase) % kTCount == 0 && b > kTBase && b < kTBase + kTCount)
    return a + (b - kTBase);
  const auto& m = composition_map();
  const auto it = m.find((static_cast<uint64_t>(a) << 32) | b);
  return it == m.end() ? 0 : it->second;
}

}  // namespace

std::u32string decode_utf8(std::string_view text) {
  std::u32string out;
  out.reserve(text.size());
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = s[i];
    int len = 0;
    char32_t cp = 0, min = 0;
    if (c < 0x80) {
      out.push_back(c);
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2, cp = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3, cp = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4, cp = c & 0x07, min = 0x10000;
    }
    bool ok = len > 0 && i + len <= n;
    for (int k = 1; ok && k < len; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) ok = false;
      else cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    if (ok && (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))) ok = false;
    if (!ok) {
      out.push_back(0xFFFD);
      ++i;  // resynchronise on the next byte
      continue;
    }
    out.push_back(cp);
    i += len;
  }
  return out;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string encode_utf8(std::u32string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char32_t cp : text) append_utf8(out, cp);
  return out;
}

bool is_punctuation(char32_t cp) {
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126))
    return true;
  return in_ranges(kPunctuation, cp);
}

bool is_whitespace(char32_t cp) {
  return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || in_ranges(kSpaceSeparator, cp);
}

bool is_control(char32_t cp) {
  if (cp == '\t' || cp == '\n' || cp == '\r') return false;
  return cp > 0x10FFFF || in_ranges(kOther, cp);
}

bool is_cjk(char32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF) ||
         (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

bool is_python_space(char32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0x2028 || cp == 0x2029 ||
         in_ranges(kSpaceSeparator, cp);
}

bool is_nonspacing_mark(char32_t cp) { return in_ranges(kNonspacingMark, cp); }

int combining_class(char32_t cp) {
  const auto it = std::upper_bound(std::begin(kCombiningClass), std::end(kCombiningClass), cp,
                                   [](char32_t c, const ClassRange& r) { return c < r.first; });
  if (it == std::begin(kCombiningClass)) return 0;
  const auto& r = *std::prev(it);
  return cp <= r.last ? r.value : 0;
}

std::u32string to_lower(std::u32string_view text) {
  std::u32string out;
  out.reserve(text.size());
  for (char32_t cp : text) {
    if (cp < 0x80) {
      out.push_back(cp >= 'A' && cp <= 'Z' ? cp + 32 : cp);
      continue;
    }
    const auto sp = std::find_if(std::begin(kLowerSpecial), std::end(kLowerSpecial),
                                 [cp](const Decomposition& d) { return d.cp == cp; });
    if (sp != std::end(kLowerSpecial)) {
      out.push_back(sp->a);
      out.push_back(sp->b);
      continue;
    }
    const auto it = std::upper_bound(std::begin(kLowerRuns), std::end(kLowerRuns), cp,
                                     [](char32_t c, const LowerRun& r) { return c < r.first; });
    if (it != std::begin(kLowerRuns)) {
      const auto& r = *std::prev(it);
      if (cp <= r.last && (cp - r.first) % r.stride == 0) {
        out.push_back(static_cast<char32_t>(static_cast<int64_t>(cp) + r.delta));
        continue;
      }
    }
    out.push_back(cp);
  }
  return out;
}

std::u32string nfd(std::u32string_view text) {
  std::u32string out;
  out.reserve(text.size() + 8);
  for (char32_t cp : text) decompose_into(cp, out);
  // Canonical ordering: stable-sort each run of non-starters by combining class.
  size_t i = 0;
  while (i < out.size()) {
    if (combining_class(out[i]) == 0) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < out.size() && combining_class(out[j]) != 0) ++j;
    std::stable_sort(out.begin() + i, out.begin() + j,
                     [](char32_t a, char32_t b) { return combining_class(a) < combining_class(b); });
    i = j;
  }
  return out;
}

std::u32string nfc(std::u32string_view text) {
  std::u32string s = nfd(text);
  if (s.empty()) return s;
  // Canonical composition (UAX #15): a character combines with the last starter unless a
  // character of the same or higher class (or a starter) sits between them.
  size_t starter = 0, out = 1;
  int last_class = combining_class(s[0]);
  if (last_class != 0) last_class = 256;  // a leading non-starter blocks everything after it
  for (size_t i = 1; i < s.size(); ++i) {
    const char32_t ch = s[i];
    const int cls = combining_class(ch);
    const char32_t composite = compose_pair(s[starter], ch);
    if (composite != 0 && (last_class < cls || last_class == 0)) {
      s[starter] = composite;
      continue;
    }
    if (cls == 0) starter = out;
    last_class = cls;
    s[out++] = ch;
  }
  s.resize(out);
  return s;
}

std::u32string strip_accents(std::u32string_view text) {
  std::u32string out;
  for (char32_t cp : nfd(text))
    if (!is_nonspacing_mark(cp)) out.push_back(cp);
  return out;
}

const char* unicode_version() { return kUnicodeVersion; }

}  // namespace gtgm::text::unicode
