// Embedded sequence-to-sequence tasks, generated from the project's seeded RNG (attend::Rng), so
// `attend gen TASK --seed S` writes the same pairs on every machine. Pair i depends only on
// (task, seed, i): generating 100 pairs gives the first 100 of 1000.
//
//   dates         "1987-11-28", "28/11/1987", "Nov. 28, 1987", "NOVEMBER 28, 1987",
//                 "march third 2015", "Tue., Mar. 3, 2015", ...  ->  "2015-03-03"
//                 43 formats in 9 families (DateFamily below), one family per pair, families
//                 equally likely. Years 1950..2049 (two-digit years: 50..99 -> 19xx, 00..49 ->
//                 20xx), weekday names always the real weekday, Feb 29 only in leap years (and
//                 forced in about 1 of 50 pairs so models see it). Numeric conventions, fixed so
//                 that every source has exactly one reading:
//                   year first (4 digits)      year-month-day, any separator ("1987/11/28")
//                   dots, year last            day.month.year always ("3.4.2015" = 3 April)
//                   slashes, year last         month/day/year (US) unless the first number is
//                                              over 12; day/month/year is generated only then
//                                              ("28/11/1987"), so "3/4/2015" is always 4 March
//                   dashes, year last          generated only with a day over 12, either order
//                                              ("28-11-1987", "11-28-1987"): never ambiguous
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
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "attend/data/corpus.h"

namespace attend::data {

enum class Task { dates, reverse, copy, sort, addition, number_words };

// The format families of the dates task; the examples are 2015-03-03 (a Tuesday) and 1987-11-28.
enum class DateFamily {
  iso,                // "2015-03-03", "2015/03/03", "2015.03.03", "20150303"
  us_numeric,         // "3/3/15", "03/03/2015", "3/3/2015", "11-28-1987" (dash: day > 12 only)
  day_first_numeric,  // "03.03.2015", "3.3.2015", "3.3.15"; "28/11/1987", "28/11/87", "28-11-1987"
                      // (slash and dash: day > 12 only)
  month_name_first,   // "March 3rd, 2015", "March 3, 2015", "march 3 2015", "mar 3 15",
                      // "mar 3 2015", "Mar. 3, 2015", "2015 march 3"
  day_first_name,     // "3 March 2015", "3 mar 2015", "3 Mar. 2015", "3rd March 2015",
                      // "the 3rd of march 2015", "3rd of March, 2015", "03-Mar-2015"
  spelled_out,        // "march third 2015", "March third, 2015", "the third of march 2015",
                      // "third of March, 2015", "March the third, 2015", "third march 2015"
  with_weekday,       // "tuesday 3 march 2015", "Tuesday, March 3, 2015", "tue mar 3 2015",
                      // "Tue., Mar. 3, 2015", "Tue, 3 Mar 2015", "Tuesday, the 3rd of March 2015",
                      // "tuesday, march third, 2015"
  upper_case,         // a format of the four name families above in capitals: "MARCH 3RD, 2015"
  mixed_case,         // the same with each word lower, Capitalized or UPPER, both cases present:
                      // "tuesday 3 MARCH 2015"
};
inline constexpr int kNumDateFamilies = 9;
// "iso", "us_numeric", "day_first_numeric", "month_name_first", "day_first_name", "spelled_out",
// "with_weekday", "upper_case", "mixed_case". parse_date_family throws attend::Error("[date
// family] unknown date family 'x' (known: ...)") for anything else.
std::string_view date_family_name(DateFamily family);
DateFamily parse_date_family(std::string_view name);
std::vector<std::string_view> date_family_names();

struct TaskOptions {
  int64_t count = 1000;
  int64_t min_length = 1;
  int64_t max_length = 10;
  uint64_t seed = 1;
  // reverse/copy/sort: symbols are the first vocab_size characters of "0123456789abcdef...z".
  int64_t vocab_size = 10;
  // dates: every pair of this family (held-out tests per family); unset: the mix of all nine.
  // Forcing a family keeps each pair's date (pair i is the same day in every family), except
  // that a format allowed only with a day over 12 moves a day <= 12 to one over 12.
  std::optional<DateFamily> date_family;
};

// "dates", "reverse", "copy", "sort", "addition", "number-words". Throws attend::Error("[task]
// unknown task 'x' (known: ...)") for anything else.
Task parse_task(std::string_view name);
std::string_view task_name(Task task);
std::vector<std::string_view> task_names();

// Generates options.count pairs. Throws attend::Error("[generate_task] ...") on bad options
// (count < 0, min_length < 1, min_length > max_length, vocab_size outside 1..36, a date_family
// with a task other than dates).
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

// The formats of the dates task, in their canonical case (upper_case and mixed_case re-case the
// name formats). Examples for 2015-03-03 (Tuesday); "day > 12" formats exist only for such days.
enum class DateFormat {
  // iso
  iso_dash,                  // "2015-03-03"
  iso_slash,                 // "2015/03/03"
  iso_dotted,                // "2015.03.03"
  iso_compact,               // "20150303"
  // us_numeric
  us_slash_yy,               // "3/3/15"
  us_slash_padded,           // "03/03/2015"
  us_slash,                  // "3/3/2015"
  us_dash,                   // "11-28-1987"   (day > 12)
  // day_first_numeric
  dotted_padded,             // "03.03.2015"
  dotted,                    // "3.3.2015"
  dotted_yy,                 // "3.3.15"
  day_slash,                 // "28/11/1987"   (day > 12)
  day_slash_yy,              // "28/11/87"     (day > 12)
  day_dash,                  // "28-11-1987"   (day > 12)
  // month_name_first
  month_ordinal_year,        // "March 3rd, 2015"
  month_day_comma_year,      // "March 3, 2015"
  month_day_year,            // "march 3 2015"
  mon_day_yy,                // "mar 3 15"
  mon_day_year,              // "mar 3 2015"
  mon_dot_day_year,          // "Mar. 3, 2015"  (May has no period; September is "Sept.")
  year_month_day,            // "2015 march 3"
  // day_first_name
  day_month_year,            // "3 March 2015"
  day_mon_year,              // "3 mar 2015"
  day_mon_dot_year,          // "3 Mar. 2015"
  ordinal_month_year,        // "3rd March 2015"
  the_ordinal_of_month,      // "the 3rd of march 2015"
  ordinal_of_month_comma,    // "3rd of March, 2015"
  day_mon_dash_year,         // "03-Mar-2015"
  // spelled_out
  month_spelled_year,        // "march third 2015"
  month_spelled_comma_year,  // "March third, 2015"
  the_spelled_of_month,      // "the third of march 2015"
  spelled_of_month_comma,    // "third of March, 2015"
  month_the_spelled,         // "March the third, 2015"
  spelled_month_year,        // "third march 2015"
  // with_weekday
  weekday_day_month_year,    // "tuesday 3 march 2015"
  weekday_month_day_year,    // "Tuesday, March 3, 2015"
  wkd_mon_day_year,          // "tue mar 3 2015"
  wkd_dot_mon_dot_day_year,  // "Tue., Mar. 3, 2015"
  wkd_day_mon_year,          // "Tue, 3 Mar 2015"
  weekday_the_ordinal_of,    // "Tuesday, the 3rd of March 2015"
  weekday_month_spelled,     // "tuesday, march third, 2015"
};
inline constexpr int kNumDateFormats = 41;
// The family a format belongs to (never upper_case or mixed_case: those re-case a name format).
DateFamily date_format_family(DateFormat format);
// True for the numeric formats whose day and month would be ambiguous with a day <= 12.
bool date_format_needs_day_over_12(DateFormat format);
// The date in that format, canonical case. Throws attend::Error("[format_date] ...") for a day
// <= 12 in a format that needs a day over 12 (its reading would be ambiguous).
std::string format_date(const Date& d, DateFormat format);
// English ordinal words for 1 <= day <= 31: "first", "twelfth", "twenty-first", "thirtieth".
std::string ordinal_words(int day);

// One generated pair of the dates task with its labels.
struct DateExample {
  Date date;
  DateFamily family = DateFamily::iso;
  DateFormat format = DateFormat::iso_dash;  // the underlying format (re-cased for upper/mixed)
  std::string source;                        // the human-readable text
  std::string target;                        // iso_date(date)
};
// The pairs generate_task(Task::dates, options) returns, with their labels.
std::vector<DateExample> generate_dates(const TaskOptions& options);

}  // namespace attend::data
