// Usage: node doiuse-email.mjs CLIENT-GLOB[,CLIENT-GLOB...] < email.html
// Prints doiuse-email's JSON result (errors: unsupported, warnings: partial, notes).
import { doIUseEmail } from 'doiuse-email';

const clients = (process.argv[2] ?? '').split(',').filter(Boolean);
if (clients.length === 0) {
  process.stderr.write('usage: node doiuse-email.mjs CLIENT-GLOB[,...] < email.html\n');
  process.exit(2);
}
let html = '';
process.stdin.setEncoding('utf8');
for await (const chunk of process.stdin) html += chunk;
process.stdout.write(JSON.stringify(doIUseEmail(html, { emailClients: clients })));
