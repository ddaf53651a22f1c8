#include "fault_schedule.h"

#ifdef PROACTOR_FAULTS

#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace proactor {

namespace {

constexpr size_t kSites = static_cast<size_t>(FaultSite::kCount);

struct SiteFacts {
  const char* name;
  const char* what;
};

constexpr SiteFacts kSiteFacts[kSites] = {
#define PROACTOR_FAULT_SITE_FACTS(name, what) {#name, what},
    PROACTOR_FAULT_SITES(PROACTOR_FAULT_SITE_FACTS)
#undef PROACTOR_FAULT_SITE_FACTS
};

struct Schedule {
  uint64_t seed = 0;
  double rate[kSites] = {};
  /* A call is hit when its hash is below the threshold: rate * 2^64, saturated. */
  uint64_t threshold[kSites] = {};
  std::atomic<uint64_t> calls[kSites] = {};
  std::atomic<uint64_t> injected[kSites] = {};
};

Schedule schedule;
std::once_flag loaded;

/* splitmix64's finalizer: a well-mixed 64-bit hash of (seed, site, n). */
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

uint64_t Threshold(double rate) {
  if (rate <= 0) return 0;
  if (rate >= 1) return ~uint64_t{0};
  return static_cast<uint64_t>(std::ldexp(rate, 64));
}

/* Parses `spec` into rates and a seed; "" when valid, else what is wrong. */
std::string Parse(const std::string& spec, uint64_t* seed, double* rates) {
  double all = -1;
  bool named[kSites] = {};
  size_t start = 0;
  while (start <= spec.size()) {
    size_t end = spec.find(',', start);
    if (end == std::string::npos) end = spec.size();
    const std::string entry = spec.substr(start, end - start);
    start = end + 1;
    if (entry.empty()) continue;
    const size_t sep = entry.find_first_of(":=");
    if (sep == std::string::npos) return "'" + entry + "' is neither seed:N nor site=rate";
    const std::string key = entry.substr(0, sep);
    const std::string value = entry.substr(sep + 1);
    char* rest = nullptr;
    if (key == "seed") {
      const unsigned long long n = std::strtoull(value.c_str(), &rest, 10);
      if (value.empty() || *rest != '\0') return "seed '" + value + "' is not a number";
      *seed = n;
      continue;
    }
    const double rate = std::strtod(value.c_str(), &rest);
    if (value.empty() || *rest != '\0' || !(rate >= 0 && rate <= 1)) {
      return "the rate of '" + key + "' must be a number from 0 to 1, not '" + value + "'";
    }
    if (key == "all") {
      all = rate;
      continue;
    }
    size_t i = 0;
    while (i < kSites && key != kSiteFacts[i].name) i++;
    if (i == kSites) return "there is no fault site '" + key + "'";
    rates[i] = rate;
    named[i] = true;
  }
  if (all >= 0) {
    for (size_t i = 0; i < kSites; i++) {
      if (!named[i]) rates[i] = all;
    }
  }
  return "";
}

void Install(uint64_t seed, const double* rates) {
  schedule.seed = seed;
  for (size_t i = 0; i < kSites; i++) {
    schedule.rate[i] = rates[i];
    schedule.threshold[i] = Threshold(rates[i]);
    schedule.calls[i].store(0, std::memory_order_relaxed);
    schedule.injected[i].store(0, std::memory_order_relaxed);
  }
}

void LoadFromEnvironment() {
  const char* spec = std::getenv("PROACTOR_FAULTS");
  uint64_t seed = 0;
  double rates[kSites] = {};
  const std::string error = Parse(spec == nullptr ? "" : spec, &seed, rates);
  if (!error.empty()) {
    std::fprintf(stderr, "PROACTOR_FAULTS: %s\n", error.c_str());
    std::abort();
  }
  Install(seed, rates);
}

}  // namespace

bool InjectFault(FaultSite site) {
  std::call_once(loaded, LoadFromEnvironment);
  const size_t i = static_cast<size_t>(site);
  const uint64_t n = schedule.calls[i].fetch_add(1, std::memory_order_relaxed);
  const uint64_t threshold = schedule.threshold[i];
  if (threshold == 0) return false;
  const bool hit = threshold == ~uint64_t{0} || Mix(schedule.seed ^ Mix((uint64_t{i} << 56) ^ n)) < threshold;
  if (hit) schedule.injected[i].fetch_add(1, std::memory_order_relaxed);
  return hit;
}

std::string ReplaceFaultSchedule(const std::string& spec) {
  std::call_once(loaded, LoadFromEnvironment);
  uint64_t seed = 0;
  double rates[kSites] = {};
  std::string error = Parse(spec, &seed, rates);
  if (error.empty()) Install(seed, rates);
  return error;
}

uint64_t FaultSeed() {
  std::call_once(loaded, LoadFromEnvironment);
  return schedule.seed;
}

std::vector<FaultSiteReport> FaultReport() {
  std::call_once(loaded, LoadFromEnvironment);
  std::vector<FaultSiteReport> out;
  out.reserve(kSites);
  for (size_t i = 0; i < kSites; i++) {
    out.push_back({kSiteFacts[i].name, kSiteFacts[i].what, schedule.rate[i],
                   schedule.calls[i].load(std::memory_order_relaxed),
                   schedule.injected[i].load(std::memory_order_relaxed)});
  }
  return out;
}

}  // namespace proactor

#endif  // PROACTOR_FAULTS
