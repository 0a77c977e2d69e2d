// data: the embedded task generators (calendar-correct dates, exact number words, sequence tasks,
// addition), their determinism given a seed, and option checks.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <set>
#include <sstream>

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

TEST(DataTasks, DateFormatsMatchTheExamples) {
  const Date d{2015, 3, 3};
  const std::array<std::string, kNumDateFormats> want = {
      "tuesday 3 march 2015", "3/3/15",         "March 3rd, 2015", "03.03.2015",     "3 mar 2015",
      "2015 march 3",         "mar 3 15",       "Tuesday, March 3, 2015", "3 March 2015", "tue mar 3 2015",
      "the 3rd of march 2015", "03/03/2015"};
  for (int f = 0; f < kNumDateFormats; ++f) EXPECT_EQ(format_date(d, static_cast<DateFormat>(f)), want[static_cast<size_t>(f)]);
  EXPECT_EQ(format_date({2001, 11, 11}, DateFormat::month_ordinal_year), "November 11th, 2001");
  EXPECT_EQ(format_date({2001, 11, 22}, DateFormat::month_ordinal_year), "November 22nd, 2001");
  EXPECT_EQ(format_date({1999, 1, 5}, DateFormat::mon_day_yy), "jan 5 99");
}

// Every generated pair: the target is a real date in 1950..2049, the source mentions its day and
// month, and any weekday name in the source is the real weekday of the target.
TEST(DataTasks, DatesAreCalendarCorrect) {
  static constexpr std::array<const char*, 7> names = {"monday", "tuesday",  "wednesday", "thursday",
                                                       "friday", "saturday", "sunday"};
  const auto pairs = generate_task(Task::dates, {.count = 4000, .seed = 11});
  ASSERT_EQ(pairs.size(), 4000u);
  int leap_days = 0, with_weekday = 0;
  std::set<std::string> shapes;  // the format of each source with digits and letters collapsed
  for (const auto& p : pairs) {
    const Date d = parse_iso_date(p.target);  // throws on an impossible date
    ASSERT_GE(d.year, 1950) << p.source;
    ASSERT_LE(d.year, 2049) << p.source;
    if (d.month == 2 && d.day == 29) {
      ++leap_days;
      ASSERT_TRUE(is_leap_year(d.year));
    }
    const std::string src = lower(p.source);
    for (int w = 0; w < 7; ++w) {
      const std::string full = names[static_cast<size_t>(w)], abbr = full.substr(0, 3) + " ";
      if (src.rfind(full, 0) == 0 || src.rfind(abbr, 0) == 0) {
        ++with_weekday;
        ASSERT_EQ(w, weekday(d)) << p.source << " -> " << p.target;
      }
    }
    ASSERT_NE(p.source.find(std::to_string(d.day)), std::string::npos) << p.source;
    ASSERT_NE(p.source.find(std::to_string(d.year % 100 < 10 ? d.year % 10 : d.year % 100)), std::string::npos)
        << p.source;
    // The source decodes back to the target under its own convention.
    bool decoded = false;
    for (int f = 0; f < kNumDateFormats && !decoded; ++f) decoded = format_date(d, static_cast<DateFormat>(f)) == p.source;
    ASSERT_TRUE(decoded) << p.source << " -> " << p.target;
  }
  EXPECT_GT(leap_days, 20);
  EXPECT_GT(with_weekday, 500);
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
  EXPECT_EQ(dates[0], (Pair{"2029 july 30", "2029-07-30"}));
  EXPECT_EQ(dates[1], (Pair{"Wednesday, December 17, 2003", "2003-12-17"}));
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
}

}  // namespace
}  // namespace attend::data
