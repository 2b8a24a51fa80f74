/**
 * Python's `datetime.strftime` in the "C" locale, for the `strftime_now` global that transformers gives
 * chat templates. The C locale matters: @huggingface/jinja's own version names months in the
 * runtime's locale ("März" in a German browser), while templates were written against English.
 */
const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

const pad = (n: number, width = 2): string => String(n).padStart(width, "0");

function dayOfYear(d: Date): number {
  const start = new Date(d.getFullYear(), 0, 1);
  return Math.round((new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime() - start.getTime()) / 86_400_000) + 1;
}

export function strftime(date: Date, format: string): string {
  return format.replace(/%(-?)([a-zA-Z%])/g, (whole, noPad: string, code: string) => {
    const p = (n: number, width = 2) => (noPad ? String(n) : pad(n, width));
    const h12 = date.getHours() % 12 === 0 ? 12 : date.getHours() % 12;
    switch (code) {
      case "Y": return String(date.getFullYear());
      case "y": return pad(date.getFullYear() % 100);
      case "m": return p(date.getMonth() + 1);
      case "d": return p(date.getDate());
      case "e": return String(date.getDate()).padStart(2, " ");
      case "B": return MONTHS[date.getMonth()]!;
      case "b": case "h": return MONTHS[date.getMonth()]!.slice(0, 3);
      case "A": return DAYS[date.getDay()]!;
      case "a": return DAYS[date.getDay()]!.slice(0, 3);
      case "w": return String(date.getDay());
      case "j": return p(dayOfYear(date), 3);
      case "H": return p(date.getHours());
      case "I": return p(h12);
      case "p": return date.getHours() < 12 ? "AM" : "PM";
      case "M": return p(date.getMinutes());
      case "S": return p(date.getSeconds());
      case "F": return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
      case "%": return "%";
      default: return whole; // Python leaves unknown directives as they are on glibc
    }
  });
}
