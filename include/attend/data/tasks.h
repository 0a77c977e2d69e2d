// Embedded sequence-to-sequence tasks, generated from the project's seeded RNG (attend::Rng), so
// `attend gen TASK --seed S` writes the same pairs on every machine. Pair i depends only on
// (task, seed, i): generating 100 pairs gives the first 100 of 1000.
//
//   dates         "tuesday 3 march 2015", "3/3/15", "March 3rd, 2015", ...  ->  "2015-03-03"
//                 years 1950..2049 (two-digit years: 50..99 -> 19xx, 00..49 -> 20xx), weekday
//                 names always the real weekday, Feb 29 only in leap years (and forced in about
//                 1 of 50 pairs so models see it). Slash dates are month/day/year (US),
//                 dotted dates day.month.year (European); each format is unambiguous.
//   reverse       "3 1 4 1 5"  ->  "5 1 4 1 3"
//   copy          "3 1 4 1 5"  ->  "3 1 4 1 5"
//   sort          "3 1 4 1 5"  ->  "1 1 3 4 5"   (symbol order = alphabet order below)
//   addition      "123+45"     ->  "168"
//   number-words  "1234"       ->  "one thousand two hundred thirty-four"   (0 .. 999,999,999,999)
//
// What min_length/max_length mean per task: symbols per sequence for reverse/copy/sort, digits
// of each operand for addition, digits of the number for number-words (capped at 12); dates
// ignore them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "attend/data/corpus.h"

namespace attend::data {

enum class Task { dates, reverse, copy, sort, addition, number_words };

struct TaskOptions {
  int64_t count = 1000;
  int64_t min_length = 1;
  int64_t max_length = 10;
  uint64_t seed = 1;
  // reverse/copy/sort: symbols are the first vocab_size characters of "0123456789abcdef...z".
  int64_t vocab_size = 10;
};

// "dates", "reverse", "copy", "sort", "addition", "number-words". Throws attend::Error("[task]
// unknown task 'x' (known: ...)") for anything else.
Task parse_task(std::string_view name);
std::string_view task_name(Task task);
std::vector<std::string_view> task_names();

// Generates options.count pairs. Throws attend::Error("[generate_task] ...") on bad options
// (count < 0, min_length < 1, min_length > max_length, vocab_size outside 1..36).
std::vector<Pair> generate_task(Task task, const TaskOptions& options);

// ---- pieces, exposed for tests and for the CLI ----

// English words for 0 <= n <= 999,999,999,999: "zero", "thirteen", "one hundred one",
// "two billion one hundred forty-seven million ...". Throws attend::Error otherwise.
std::string number_to_words(int64_t n);

struct Date {
  int year = 2000, month = 1, day = 1;  // month 1..12, day 1..days_in_month
  bool operator==(const Date&) const = default;
};
bool is_leap_year(int year);
int days_in_month(int year, int month);
// 0 = Monday ... 6 = Sunday (proleptic Gregorian calendar).
int weekday(const Date& d);
// "2015-03-03"
std::string iso_date(const Date& d);
// Parses "YYYY-MM-DD", checking the calendar; throws attend::Error("[parse_iso_date] ...").
Date parse_iso_date(std::string_view s);

// The human-readable formats of the dates task, each a fixed convention.
enum class DateFormat {
  weekday_day_month_year,   // "tuesday 3 march 2015"
  month_day_year_slash,     // "3/3/15"
  month_ordinal_year,       // "March 3rd, 2015"
  day_month_year_dotted,    // "03.03.2015"
  day_mon_year,             // "3 mar 2015"
  year_month_day,           // "2015 march 3"
  mon_day_yy,               // "mar 3 15"
  full_weekday_month_day,   // "Tuesday, March 3, 2015"
  day_month_year,           // "3 March 2015"
  wkd_mon_day_year,         // "tue mar 3 2015"
  ordinal_of_month,         // "the 3rd of march 2015"
  month_day_year_slash_full,  // "03/03/2015"
};
inline constexpr int kNumDateFormats = 12;
std::string format_date(const Date& d, DateFormat format);

}  // namespace attend::data
