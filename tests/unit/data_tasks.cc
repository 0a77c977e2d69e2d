// data: the embedded task generators (calendar-correct dates in every format family, exact number
// words, sequence tasks, addition), their determinism given a seed, and option checks. The dates
// are checked against an independent reader below (its own month, weekday and ordinal tables, its
// own calendar and Zeller's weekday formula), not against the generator's own pieces.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>

#include "attend/core/error.h"
#include "attend/data/tasks.h"

namespace attend::data {
namespace {

std::vector<std::string> split_spaces(const std::string& s) {
  std::istringstream is(s);
  std::vector<std::string> out;
  for (std::string w; is >> w;) out.push_back(w);
  return out;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

TEST(DataTasks, NumberWordsExactExamples) {
  EXPECT_EQ(number_to_words(0), "zero");
  EXPECT_EQ(number_to_words(7), "seven");
  EXPECT_EQ(number_to_words(13), "thirteen");
  EXPECT_EQ(number_to_words(40), "forty");
  EXPECT_EQ(number_to_words(42), "forty-two");
  EXPECT_EQ(number_to_words(100), "one hundred");
  EXPECT_EQ(number_to_words(101), "one hundred one");
  EXPECT_EQ(number_to_words(1000), "one thousand");
  EXPECT_EQ(number_to_words(1234), "one thousand two hundred thirty-four");
  EXPECT_EQ(number_to_words(1000000), "one million");
  EXPECT_EQ(number_to_words(1000001), "one million one");
  EXPECT_EQ(number_to_words(2147483647),
            "two billion one hundred forty-seven million four hundred eighty-three thousand six hundred forty-seven");
  EXPECT_EQ(number_to_words(999999999999),
            "nine hundred ninety-nine billion nine hundred ninety-nine million nine hundred ninety-nine thousand "
            "nine hundred ninety-nine");
  EXPECT_THROW(number_to_words(-1), Error);
  EXPECT_THROW(number_to_words(1000000000000), Error);
}

TEST(DataTasks, CalendarBasics) {
  EXPECT_TRUE(is_leap_year(2000));
  EXPECT_FALSE(is_leap_year(1900));
  EXPECT_TRUE(is_leap_year(2024));
  EXPECT_FALSE(is_leap_year(2023));
  EXPECT_EQ(days_in_month(2024, 2), 29);
  EXPECT_EQ(days_in_month(2023, 2), 28);
  EXPECT_EQ(weekday({1970, 1, 1}), 3);   // Thursday
  EXPECT_EQ(weekday({2015, 3, 3}), 1);   // Tuesday
  EXPECT_EQ(weekday({2000, 2, 29}), 1);  // Tuesday
  EXPECT_EQ(weekday({1950, 1, 1}), 6);   // Sunday
  EXPECT_EQ(weekday({2049, 12, 31}), 4);  // Friday
  EXPECT_EQ(parse_iso_date("2016-02-29"), (Date{2016, 2, 29}));
  EXPECT_THROW(parse_iso_date("2015-02-29"), Error);
  EXPECT_THROW(parse_iso_date("2015-13-01"), Error);
  EXPECT_THROW(parse_iso_date("2015/03/03"), Error);
}

// ---- the oracle: an independent reader of every generated date ----

bool oracle_leap(int y) { return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0); }

int oracle_days_in_month(int y, int m) {
  if (m == 2) return oracle_leap(y) ? 29 : 28;
  return (m == 4 || m == 6 || m == 9 || m == 11) ? 30 : 31;  // "thirty days hath September..."
}

// Zeller's congruence, 0 = Monday ... 6 = Sunday.
int zeller_weekday(const Date& d) {
  int m = d.month, y = d.year;
  if (m < 3) m += 12, y -= 1;
  const int k = y % 100, j = y / 100;
  const int h = (d.day + 13 * (m + 1) / 5 + k + k / 4 + j / 4 + 5 * j) % 7;  // 0 = Saturday
  return (h + 5) % 7;
}

struct Reading {
  Date date;
  int weekday = -1;  // the weekday named in the text, -1 if none
};

// Reads a date the way a person would, with the conventions of tasks.h: year-first numbers are
// y-m-d; dots are d.m.y; slashes are m/d/y unless the first number is over 12; dashes with the
// year last must have a number over 12 in front or in the middle (anything else is ambiguous and
// throws). Two-digit years: 50..99 -> 19xx, 00..49 -> 20xx. Throws std::runtime_error on anything
// it does not understand, so a new or broken format fails the tests.
Reading read_date(const std::string& text) {
  static const std::map<std::string, int> months = {
      {"january", 1}, {"february", 2}, {"march", 3},     {"april", 4},   {"may", 5},      {"june", 6},
      {"july", 7},    {"august", 8},   {"september", 9}, {"october", 10}, {"november", 11}, {"december", 12},
      {"jan", 1},     {"feb", 2},      {"mar", 3},       {"apr", 4},     {"jun", 6},      {"jul", 7},
      {"aug", 8},     {"sep", 9},      {"sept", 9},      {"oct", 10},    {"nov", 11},     {"dec", 12}};
  static const std::map<std::string, int> weekdays = {
      {"monday", 0}, {"tuesday", 1}, {"wednesday", 2}, {"thursday", 3}, {"friday", 4}, {"saturday", 5}, {"sunday", 6},
      {"mon", 0},    {"tue", 1},     {"wed", 2},       {"thu", 3},      {"fri", 4},    {"sat", 5},      {"sun", 6}};
  static const std::map<std::string, int> ordinals = {
      {"first", 1},       {"second", 2},       {"third", 3},        {"fourth", 4},      {"fifth", 5},
      {"sixth", 6},       {"seventh", 7},      {"eighth", 8},       {"ninth", 9},       {"tenth", 10},
      {"eleventh", 11},   {"twelfth", 12},     {"thirteenth", 13},  {"fourteenth", 14}, {"fifteenth", 15},
      {"sixteenth", 16},  {"seventeenth", 17}, {"eighteenth", 18},  {"nineteenth", 19}, {"twentieth", 20},
      {"thirtieth", 30}};
  const auto fail = [&](const std::string& why) -> Reading { throw std::runtime_error("'" + text + "': " + why); };

  // Tokens: runs of letters, runs of digits, and the separator text before each.
  struct Token {
    std::string text, before;
    bool digits;
  };
  std::vector<Token> tokens;
  std::string sep;
  for (size_t k = 0; k < text.size();) {
    const auto c = static_cast<unsigned char>(text[k]);
    if (!std::isalnum(c)) {
      sep += text[k++];
      continue;
    }
    const bool digits = std::isdigit(c) != 0;
    std::string t;
    while (k < text.size() && std::isalnum(static_cast<unsigned char>(text[k])) &&
           (std::isdigit(static_cast<unsigned char>(text[k])) != 0) == digits)
      t += static_cast<char>(std::tolower(static_cast<unsigned char>(text[k++])));
    tokens.push_back({t, sep, digits});
    sep.clear();
  }
  if (!sep.empty()) return fail("trailing '" + sep + "'");

  Reading r;
  int month = 0, day_word = 0;
  struct Number {
    int value;
    size_t digits;
    std::string before;
  };
  std::vector<Number> numbers;
  for (size_t k = 0; k < tokens.size(); ++k) {
    const Token& t = tokens[k];
    if (t.digits) {
      numbers.push_back({std::stoi(t.text), t.text.size(), t.before});
      continue;
    }
    if (t.text == "st" || t.text == "nd" || t.text == "rd" || t.text == "th") {
      if (k == 0 || !tokens[k - 1].digits || !t.before.empty()) return fail("suffix '" + t.text + "' without a number");
      const int n = numbers.back().value;
      const std::string want = (n % 100 >= 11 && n % 100 <= 13) ? "th"
                               : n % 10 == 1                  ? "st"
                               : n % 10 == 2                  ? "nd"
                               : n % 10 == 3                  ? "rd"
                                                              : "th";
      if (t.text != want) return fail("wrong suffix '" + t.text + "' for " + std::to_string(n));
      continue;
    }
    if (t.text == "the" || t.text == "of") continue;
    if ((t.text == "twenty" || t.text == "thirty") && k + 1 < tokens.size() && tokens[k + 1].before == "-") {
      const auto unit = ordinals.find(tokens[k + 1].text);
      if (unit == ordinals.end() || unit->second > 9) return fail("bad compound ordinal");
      if (day_word) return fail("two spelled days");
      day_word = (t.text == "twenty" ? 20 : 30) + unit->second;
      ++k;
      continue;
    }
    if (auto o = ordinals.find(t.text); o != ordinals.end()) {
      if (day_word) return fail("two spelled days");
      day_word = o->second;
    } else if (auto m = months.find(t.text); m != months.end()) {
      if (month) return fail("two months");
      month = m->second;
    } else if (auto w = weekdays.find(t.text); w != weekdays.end()) {
      if (r.weekday >= 0) return fail("two weekdays");
      r.weekday = w->second;
    } else {
      return fail("unknown word '" + t.text + "'");
    }
  }

  const auto full_year = [&](const Number& n) {
    if (n.digits == 4) return n.value;
    if (n.digits != 2) fail("a year of " + std::to_string(n.digits) + " digits");
    return n.value >= 50 ? 1900 + n.value : 2000 + n.value;
  };
  Date& d = r.date;
  if (month) {
    d.month = month;
    if (day_word) {
      if (numbers.size() != 1) return fail("a spelled day needs exactly one number, the year");
      d.day = day_word;
      d.year = full_year(numbers[0]);
    } else {
      if (numbers.size() != 2) return fail("a month name needs a day and a year");
      const size_t y = numbers[0].digits == 4 ? 0 : 1;  // the 4-digit one, else the last
      d.year = full_year(numbers[y]);
      d.day = numbers[1 - y].value;
    }
  } else {
    if (day_word) return fail("a spelled day without a month");
    if (numbers.size() == 1 && numbers[0].digits == 8) {
      d = {numbers[0].value / 10000, numbers[0].value / 100 % 100, numbers[0].value % 100};
    } else if (numbers.size() == 3) {
      const std::string s1 = numbers[1].before, s2 = numbers[2].before;
      if (s1 != s2 || (s1 != "-" && s1 != "/" && s1 != ".")) return fail("mixed or unknown separators");
      const int a = numbers[0].value, b = numbers[1].value;
      if (numbers[0].digits == 4) {
        d = {a, b, numbers[2].value};
      } else {
        const bool day_first = s1 == "." || a > 12;
        if (s1 == "-" && a <= 12 && b <= 12) return fail("ambiguous dashed date");
        d = {full_year(numbers[2]), day_first ? b : a, day_first ? a : b};
      }
    } else {
      return fail("not a numeric date");
    }
  }
  if (d.month < 1 || d.month > 12 || d.day < 1 || d.day > oracle_days_in_month(d.year, d.month))
    return fail("no such day");
  return r;
}

std::string oracle_iso(const Date& d) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", d.year, d.month, d.day);
  return buf;
}

bool has_lower(const std::string& s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return std::islower(static_cast<unsigned char>(c)) != 0; });
}
bool has_upper(const std::string& s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return std::isupper(static_cast<unsigned char>(c)) != 0; });
}

bool is_name_family(DateFamily f) {
  return f == DateFamily::month_name_first || f == DateFamily::day_first_name || f == DateFamily::spelled_out ||
         f == DateFamily::with_weekday;
}

// Checks one generated example against the oracle and its family's rules; returns "" if fine.
std::string check_example(const DateExample& e) {
  Reading r;
  try {
    r = read_date(e.source);
  } catch (const std::exception& ex) {
    return ex.what();
  }
  const std::string where = "'" + e.source + "' -> " + e.target + " (" + std::string(date_family_name(e.family)) + "): ";
  if (oracle_iso(r.date) != e.target) return where + "the oracle reads " + oracle_iso(r.date);
  if (!(r.date == e.date)) return where + "the label's date differs";
  if (r.date.year < 1950 || r.date.year > 2049) return where + "year outside 1950..2049";
  if (r.weekday >= 0 && r.weekday != zeller_weekday(r.date)) return where + "wrong weekday";
  if ((r.weekday >= 0) != (date_format_family(e.format) == DateFamily::with_weekday))
    return where + "a weekday outside with_weekday or none in it";
  if (e.family == DateFamily::upper_case || e.family == DateFamily::mixed_case) {
    if (!is_name_family(date_format_family(e.format))) return where + "re-cased a numeric format";
    if (lower(e.source) != lower(format_date(e.date, e.format))) return where + "not the format re-cased";
    if (e.family == DateFamily::upper_case && has_lower(e.source)) return where + "lower case in upper_case";
  } else {
    if (date_format_family(e.format) != e.family) return where + "format of another family";
    if (e.source != format_date(e.date, e.format)) return where + "not the format's text";
  }
  return "";
}

TEST(DataTasks, WeekdayAndCalendarAgreeWithTheOracle) {
  int days = 0, leap_years = 0;
  for (int y = 1900; y <= 2100; ++y) {
    ASSERT_EQ(is_leap_year(y), oracle_leap(y)) << y;
    if (y >= 1950 && y <= 2049) leap_years += oracle_leap(y);
    for (int m = 1; m <= 12; ++m) {
      ASSERT_EQ(days_in_month(y, m), oracle_days_in_month(y, m)) << y << "-" << m;
      for (int d = 1; d <= oracle_days_in_month(y, m); ++d, ++days) ASSERT_EQ(weekday({y, m, d}), zeller_weekday({y, m, d}));
    }
  }
  EXPECT_EQ(days, 73414);  // 201 years, 49 of them leap years (1900 and 2100 are not)
  EXPECT_EQ(leap_years, 25);
  // The oracle itself, on the inputs of issue 10 and on known weekdays.
  EXPECT_EQ(oracle_iso(read_date("1987-11-28").date), "1987-11-28");
  EXPECT_EQ(oracle_iso(read_date("28/11/1987").date), "1987-11-28");
  EXPECT_EQ(oracle_iso(read_date("3/4/2015").date), "2015-03-04");
  EXPECT_EQ(oracle_iso(read_date("NOVEMBER 28, 1987").date), "1987-11-28");
  EXPECT_EQ(oracle_iso(read_date("march third 2015").date), "2015-03-03");
  EXPECT_EQ(oracle_iso(read_date("Saturday, the twenty-first of May 2016").date), "2016-05-21");
  EXPECT_EQ(read_date("Saturday, the twenty-first of May 2016").weekday, 5);
  EXPECT_EQ(zeller_weekday({2015, 3, 3}), 1);
  EXPECT_EQ(zeller_weekday({1970, 1, 1}), 3);
  EXPECT_THROW(read_date("03-04-2015"), std::runtime_error);
  EXPECT_THROW(read_date("March 3th, 2015"), std::runtime_error);
  EXPECT_THROW(read_date("February 29, 2015"), std::runtime_error);
}

TEST(DataTasks, DateFormatsMatchTheExamples) {
  const Date d{2015, 3, 3}, late{1987, 11, 28};
  const std::array<std::string, kNumDateFormats> want = {
      "2015-03-03", "2015/03/03", "2015.03.03", "20150303",                                          // iso
      "3/3/15", "03/03/2015", "3/3/2015", "11-28-1987",                                              // us_numeric
      "03.03.2015", "3.3.2015", "3.3.15", "28/11/1987", "28/11/87", "28-11-1987",                    // day_first
      "March 3rd, 2015", "March 3, 2015", "march 3 2015", "mar 3 15", "mar 3 2015", "Mar. 3, 2015",  // month
      "2015 march 3",                                                                                //   first
      "3 March 2015", "3 mar 2015", "3 Mar. 2015", "3rd March 2015", "the 3rd of march 2015",        // day first
      "3rd of March, 2015", "03-Mar-2015",                                                           //   name
      "march third 2015", "March third, 2015", "the third of march 2015", "third of March, 2015",    // spelled
      "March the third, 2015", "third march 2015",                                                   //   out
      "tuesday 3 march 2015", "Tuesday, March 3, 2015", "tue mar 3 2015", "Tue., Mar. 3, 2015",      // with
      "Tue, 3 Mar 2015", "Tuesday, the 3rd of March 2015", "tuesday, march third, 2015"};            //   weekday
  for (int f = 0; f < kNumDateFormats; ++f) {
    const auto format = static_cast<DateFormat>(f);
    const Date& date = date_format_needs_day_over_12(format) ? late : d;
    EXPECT_EQ(format_date(date, format), want[static_cast<size_t>(f)]) << f;
    // A day <= 12 in a format that needs a day over 12 would be ambiguous: refused.
    if (date_format_needs_day_over_12(format)) { EXPECT_THROW(format_date({1987, 11, 12}, format), Error) << f; }
  }
  EXPECT_EQ(format_date({2001, 11, 11}, DateFormat::month_ordinal_year), "November 11th, 2001");
  EXPECT_EQ(format_date({2001, 11, 22}, DateFormat::month_ordinal_year), "November 22nd, 2001");
  EXPECT_EQ(format_date({1999, 1, 5}, DateFormat::mon_day_yy), "jan 5 99");
  EXPECT_EQ(format_date({1987, 11, 28}, DateFormat::mon_dot_day_year), "Nov. 28, 1987");
  EXPECT_EQ(format_date({2001, 9, 11}, DateFormat::mon_dot_day_year), "Sept. 11, 2001");
  EXPECT_EQ(format_date({2015, 5, 1}, DateFormat::the_spelled_of_month), "the first of may 2015");
  EXPECT_EQ(format_date({1999, 6, 21}, DateFormat::spelled_month_year), "twenty-first june 1999");
  EXPECT_EQ(format_date({2024, 2, 29}, DateFormat::weekday_month_day_year), "Thursday, February 29, 2024");
  EXPECT_THROW(format_date({2023, 2, 29}, DateFormat::iso_dash), Error);
  const std::map<int, std::string> words = {{1, "first"},         {2, "second"},       {3, "third"},
                                            {5, "fifth"},         {8, "eighth"},       {9, "ninth"},
                                            {11, "eleventh"},     {12, "twelfth"},     {13, "thirteenth"},
                                            {20, "twentieth"},    {21, "twenty-first"}, {22, "twenty-second"},
                                            {23, "twenty-third"}, {30, "thirtieth"},   {31, "thirty-first"}};
  for (const auto& [n, w] : words) EXPECT_EQ(ordinal_words(n), w);
  EXPECT_THROW(ordinal_words(0), Error);
  EXPECT_THROW(ordinal_words(32), Error);
}

// Each family on its own (the held-out tests per family): every example reads back to its date,
// obeys its family's rules, and every format of the family shows up.
TEST(DataTasks, EveryDateFamilyReadsBackToItsDate) {
  ASSERT_EQ(date_family_names().size(), static_cast<size_t>(kNumDateFamilies));
  for (const auto name : date_family_names()) {
    const DateFamily family = parse_date_family(name);
    EXPECT_EQ(date_family_name(family), name);
    const auto examples = generate_dates({.count = 1500, .seed = 7, .date_family = family});
    ASSERT_EQ(examples.size(), 1500u);
    std::set<DateFormat> formats;
    int letters = 0, mixed = 0;
    for (const auto& e : examples) {
      ASSERT_EQ(e.family, family);
      const std::string problem = check_example(e);
      ASSERT_EQ(problem, "") << name;
      formats.insert(e.format);
      letters += has_lower(e.source) || has_upper(e.source);
      mixed += has_lower(e.source) && has_upper(e.source);
    }
    if (family == DateFamily::upper_case || family == DateFamily::mixed_case) {
      EXPECT_EQ(letters, 1500) << name;
      EXPECT_EQ(formats.size(), 27u) << name;  // every format of the four name families
      if (family == DateFamily::mixed_case) { EXPECT_EQ(mixed, 1500) << name; }
    } else {
      int in_family = 0;
      for (int f = 0; f < kNumDateFormats; ++f) in_family += date_format_family(static_cast<DateFormat>(f)) == family;
      EXPECT_EQ(static_cast<int>(formats.size()), in_family) << name;
      if (family == DateFamily::iso || family == DateFamily::us_numeric || family == DateFamily::day_first_numeric) {
        EXPECT_EQ(letters, 0) << name;
      }
    }
  }
  // The generator's pairs are the labelled examples' text.
  const auto pairs = generate_task(Task::dates, {.count = 50, .seed = 7, .date_family = DateFamily::spelled_out});
  const auto labelled = generate_dates({.count = 50, .seed = 7, .date_family = DateFamily::spelled_out});
  for (size_t i = 0; i < pairs.size(); ++i) EXPECT_EQ(pairs[i], (Pair{labelled[i].source, labelled[i].target}));
}

// The mix: every pair is calendar-correct and reads back to its target, families are equally
// likely, every format shows up, and leap days are there.
TEST(DataTasks, DatesAreCalendarCorrect) {
  const auto examples = generate_dates({.count = 9000, .seed = 11});
  const auto pairs = generate_task(Task::dates, {.count = 9000, .seed = 11});
  ASSERT_EQ(pairs.size(), 9000u);
  std::array<int, kNumDateFamilies> per_family{};
  std::set<DateFormat> formats;
  int leap_days = 0, with_weekday = 0;
  for (size_t i = 0; i < pairs.size(); ++i) {
    const DateExample& e = examples[i];
    ASSERT_EQ(pairs[i], (Pair{e.source, e.target}));
    ASSERT_EQ(check_example(e), "");
    const Date d = parse_iso_date(e.target);  // throws on an impossible date
    if (d.month == 2 && d.day == 29) {
      ++leap_days;
      ASSERT_TRUE(oracle_leap(d.year)) << e.source;
    }
    with_weekday += read_date(e.source).weekday >= 0;
    ++per_family[static_cast<size_t>(e.family)];
    formats.insert(e.format);
  }
  for (int f = 0; f < kNumDateFamilies; ++f) {
    EXPECT_GT(per_family[static_cast<size_t>(f)], 850) << date_family_name(static_cast<DateFamily>(f));
    EXPECT_LT(per_family[static_cast<size_t>(f)], 1150) << date_family_name(static_cast<DateFamily>(f));
  }
  EXPECT_EQ(formats.size(), static_cast<size_t>(kNumDateFormats));
  EXPECT_GT(leap_days, 100);
  EXPECT_GT(with_weekday, 1200);
}

// One text, one date: across many pairs no source ever maps to two targets, slashed dates whose
// first two numbers are both <= 12 are always month first, and dashed dates with the year last
// always have a day over 12.
TEST(DataTasks, DateSourcesAreNeverAmbiguous) {
  std::map<std::string, std::string> seen;
  int both_small_slash = 0;
  for (const auto& e : generate_dates({.count = 60000, .seed = 3})) {
    const auto [it, fresh] = seen.emplace(e.source, e.target);
    ASSERT_TRUE(fresh || it->second == e.target) << e.source << " -> " << it->second << " and " << e.target;
    const DateFamily f = date_format_family(e.format);
    if (f != DateFamily::us_numeric && f != DateFamily::day_first_numeric) continue;
    int a = 0, b = 0;
    char s1 = 0, s2 = 0;
    ASSERT_EQ(std::sscanf(e.source.c_str(), "%d%c%d%c", &a, &s1, &b, &s2), 4) << e.source;
    if (s1 == '/' && a <= 12 && b <= 12) {
      ++both_small_slash;
      ASSERT_EQ(f, DateFamily::us_numeric) << e.source;
      ASSERT_EQ(e.date.month, a) << e.source;
    }
    if (s1 == '-') { ASSERT_TRUE(a > 12 || b > 12) << e.source; }
    if (s1 == '-' || (s1 == '/' && f == DateFamily::day_first_numeric)) { ASSERT_GT(e.date.day, 12) << e.source; }
  }
  EXPECT_GT(both_small_slash, 1000);
}

// A forced family keeps each pair's date: pair i is the same day in the mix and in every family
// (a day-over-12 format moves only the day).
TEST(DataTasks, ForcedFamilyKeepsTheDate) {
  const auto mix = generate_dates({.count = 400, .seed = 5});
  for (const auto name : date_family_names()) {
    const auto one = generate_dates({.count = 400, .seed = 5, .date_family = parse_date_family(name)});
    for (size_t i = 0; i < mix.size(); ++i) {
      const Date a = mix[i].date, b = one[i].date;
      ASSERT_EQ(a.year, b.year) << name << " " << i;
      ASSERT_EQ(a.month, b.month) << name << " " << i;
      if (date_format_needs_day_over_12(one[i].format) || date_format_needs_day_over_12(mix[i].format)) {
        ASSERT_GT(std::max(a.day, b.day), 12);
      } else {
        ASSERT_EQ(a.day, b.day) << name << " " << i;
      }
      if (mix[i].family == one[i].family) { ASSERT_EQ(mix[i].source, one[i].source) << name << " " << i; }
    }
  }
}

TEST(DataTasks, SequenceTasks) {
  const TaskOptions o{.count = 300, .min_length = 3, .max_length = 8, .seed = 5, .vocab_size = 12};
  for (Task t : {Task::reverse, Task::copy, Task::sort}) {
    for (const auto& p : generate_task(t, o)) {
      auto s = split_spaces(p.source);
      ASSERT_GE(s.size(), 3u);
      ASSERT_LE(s.size(), 8u);
      for (const auto& tok : s) ASSERT_NE(std::string("0123456789ab").find(tok), std::string::npos) << tok;
      if (t == Task::reverse) std::reverse(s.begin(), s.end());
      if (t == Task::sort) std::sort(s.begin(), s.end());
      ASSERT_EQ(split_spaces(p.target), s) << task_name(t) << ": " << p.source << " -> " << p.target;
    }
  }
}

TEST(DataTasks, Addition) {
  for (const auto& p : generate_task(Task::addition, {.count = 500, .min_length = 1, .max_length = 5, .seed = 3})) {
    const size_t plus = p.source.find('+');
    ASSERT_NE(plus, std::string::npos);
    const std::string a = p.source.substr(0, plus), b = p.source.substr(plus + 1);
    ASSERT_LE(a.size(), 5u);
    ASSERT_LE(b.size(), 5u);
    ASSERT_EQ(std::to_string(std::stoll(a) + std::stoll(b)), p.target) << p.source;
  }
}

TEST(DataTasks, NumberWordsTask) {
  for (const auto& p : generate_task(Task::number_words, {.count = 300, .min_length = 1, .max_length = 12, .seed = 9})) {
    ASSERT_EQ(p.target, number_to_words(std::stoll(p.source)));
    ASSERT_LE(p.source.size(), 12u);
  }
}

TEST(DataTasks, DeterministicGivenSeedAndPrefixStable) {
  for (const auto name : task_names()) {
    const Task t = parse_task(name);
    const auto a = generate_task(t, {.count = 200, .seed = 42});
    const auto b = generate_task(t, {.count = 200, .seed = 42});
    const auto prefix = generate_task(t, {.count = 50, .seed = 42});
    const auto other = generate_task(t, {.count = 200, .seed = 43});
    EXPECT_EQ(a, b) << name;
    EXPECT_TRUE(std::equal(prefix.begin(), prefix.end(), a.begin())) << name;
    EXPECT_NE(a, other) << name;
  }
  // Pinned values: the Philox stream must give exactly these on every machine and compiler.
  const auto dates = generate_task(Task::dates, {.count = 2, .seed = 1});
  EXPECT_EQ(dates[0].source, "27-05-2000");
  EXPECT_EQ(dates[0].target, "2000-05-27");
  EXPECT_EQ(dates[1].source, "the seventeenth of december 2017");
  EXPECT_EQ(dates[1].target, "2017-12-17");
  for (const auto name : date_family_names()) {
    const auto a = generate_dates({.count = 100, .seed = 42, .date_family = parse_date_family(name)});
    const auto b = generate_dates({.count = 100, .seed = 42, .date_family = parse_date_family(name)});
    const auto other = generate_dates({.count = 100, .seed = 43, .date_family = parse_date_family(name)});
    for (size_t i = 0; i < a.size(); ++i) ASSERT_EQ(a[i].source, b[i].source) << name;
    size_t differ = 0;
    for (size_t i = 0; i < a.size(); ++i) differ += a[i].source != other[i].source;
    EXPECT_GT(differ, 80u) << name;
  }
  const auto sums = generate_task(Task::addition, {.count = 2, .max_length = 3, .seed = 1});
  EXPECT_EQ(sums[0], (Pair{"900+902", "1802"}));
  EXPECT_EQ(sums[1], (Pair{"8+975", "983"}));
}

TEST(DataTasks, BadInputOptionsAndNames) {
  EXPECT_THROW(parse_task("dates2"), Error);
  try {
    parse_task("nope");
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("number-words"), std::string::npos) << e.what();
  }
  EXPECT_THROW(generate_task(Task::copy, {.count = -1}), Error);
  EXPECT_THROW(generate_task(Task::copy, {.min_length = 5, .max_length = 4}), Error);
  EXPECT_THROW(generate_task(Task::copy, {.vocab_size = 37}), Error);
  EXPECT_THROW(generate_task(Task::addition, {.max_length = 18}), Error);
  EXPECT_THROW(generate_task(Task::copy, {.date_family = DateFamily::iso}), Error);
  EXPECT_THROW(generate_dates({.count = -1}), Error);
  EXPECT_THROW(parse_date_family("ISO"), Error);
  try {
    parse_date_family("nope");
    ADD_FAILURE() << "no throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("day_first_numeric"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace attend::data
