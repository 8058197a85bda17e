/**
 * The MCP Inspector 2.x web UI as the browser test drives it, and our own login and consent pages.
 * Every selector of the test lives here, by accessible role, label or visible text (what a user
 * reads), never by the Inspector's CSS classes: a new Inspector minor that restyles the UI keeps
 * working, one that renames a button fails here, in one place. The names were read off the running
 * UI (Playwright's aria snapshots of 2.12), not guessed.
 */
import type { Locator, Page } from 'playwright-core';

/** How long one UI step may take (the Inspector's backend round trips through two instances). */
export const STEP_TIMEOUT_MS = 20_000;

export type Screen = 'Servers' | 'Tools' | 'Prompts' | 'Resources' | 'Logs';

export interface OAuthDetails {
  clientId: string;
  accessToken: string;
  registration: string;
  scopes: string;
}

export class InspectorUi {
  constructor(
    readonly page: Page,
    /** The Inspector's own URL, with its API token. */
    private readonly url: string,
  ) {
    page.setDefaultTimeout(STEP_TIMEOUT_MS);
  }

  async open(): Promise<void> {
    await this.page.goto(this.url);
    await this.page.getByRole('button', { name: 'Add Servers' }).waitFor();
  }

  /** Add Servers → + Add manually → Server ID, Transport `streamable-http`, URL → Add. */
  async addServer(id: string, url: string): Promise<void> {
    await this.page.getByRole('button', { name: 'Add Servers' }).click();
    await this.page.getByRole('menuitem', { name: /Add manually/ }).click();
    const dialog = this.page.getByRole('dialog', { name: 'Add server' });
    await dialog.getByRole('textbox', { name: 'Server ID' }).fill(id);
    await dialog.getByRole('textbox', { name: 'Transport' }).click();
    await this.page.getByRole('option', { name: 'streamable-http' }).click();
    await dialog.getByRole('textbox', { name: 'URL' }).fill(url);
    await dialog.getByRole('button', { name: 'Add' }).click();
    await dialog.waitFor({ state: 'hidden' });
  }

  /** The switch on the server card (the only way to connect or disconnect in 2.x). */
  serverSwitch(id: string, checked?: boolean): Locator {
    return this.page.getByRole('switch', {
      name: `Connect or disconnect "${id}"`,
      ...(checked === undefined ? {} : { checked }),
    });
  }

  async toggleServer(id: string): Promise<void> {
    // A Mantine switch: the input is visually hidden behind its track, so a pointer click lands
    // wherever the track is drawn; the keyboard (focus, Space) reaches the input itself.
    await this.serverSwitch(id).press('Space');
  }

  async waitForConnected(id: string, connected = true): Promise<void> {
    await this.serverSwitch(id, connected).waitFor({ state: 'attached' });
    // The card's status line; "Disconnected" is on every other card too, so only "Connected" is read.
    if (connected) await this.main().getByText('Connected', { exact: true }).waitFor();
  }

  /** One of the header's screens (a segmented control whose radio inputs are hidden: click the label). */
  async screen(name: Screen): Promise<void> {
    await this.page.getByRole('banner').getByText(name, { exact: true }).click();
  }

  main(): Locator {
    return this.page.getByRole('main');
  }

  /** A notification toast ("Authorization complete", "Re-authentication required", …). */
  notice(title: string | RegExp): Locator {
    return this.page.getByText(title).first();
  }

  /** Tools → the tool (by its name as listed) → fill its form → Execute Tool.  */
  async startTool(name: string, args: Record<string, string> = {}): Promise<void> {
    await this.screen('Tools');
    await this.main()
      .getByRole('button', { name: new RegExp(` ${name}$`) })
      .click();
    const close = this.main().getByRole('button', { name: 'Close results' });
    if (await close.isVisible()) await close.click();
    for (const [field, value] of Object.entries(args))
      await this.main().getByRole('textbox', { name: field, exact: true }).fill(value);
    await this.main().getByRole('button', { name: 'Execute Tool' }).click();
  }

  /** The screen's text once the tool's results panel shows (the panel is closed before each call). */
  async toolResult(): Promise<string> {
    await this.main().getByRole('heading', { name: 'Results' }).waitFor();
    return this.main().innerText();
  }

  async callTool(name: string, args: Record<string, string> = {}): Promise<string> {
    await this.startTool(name, args);
    return this.toolResult();
  }

  /** Resources → a listed resource → its preview text. */
  async readResource(title: string): Promise<string> {
    await this.screen('Resources');
    await this.main().getByRole('button', { name: title, exact: true }).click();
    await this.main().getByRole('heading', { name: 'Resource', exact: true }).waitFor();
    return this.main().innerText();
  }

  /**
   * Prompts → a prompt → each argument typed character by character (so the Inspector asks
   * `completion/complete`) and picked from the suggestions → Get Prompt. Returns the suggestions
   * offered per argument and the messages' text.
   */
  async getPromptWithCompletion(
    title: string,
    args: Array<{ name: string; type: string; pick: string }>,
  ): Promise<{ offered: Record<string, string[]>; messages: string }> {
    await this.screen('Prompts');
    await this.main()
      .getByRole('button', { name: new RegExp(`^${title}`) })
      .click();
    const offered: Record<string, string[]> = {};
    for (const arg of args) {
      await this.main().getByRole('textbox', { name: arg.name, exact: true }).pressSequentially(arg.type);
      const list = this.page.getByRole('listbox', { name: arg.name });
      // Suggestions arrive per keystroke (and on focus); wait for the answer to the whole prefix.
      const deadline = Date.now() + STEP_TIMEOUT_MS;
      let options: string[] = [];
      while (!(options.length > 0 && options.every((o) => o.startsWith(arg.type)))) {
        if (Date.now() > deadline)
          throw new Error(`no completion for "${arg.type}" in ${arg.name}; offered: ${options.join(', ')}`);
        await this.page.waitForTimeout(100);
        options = await list.getByRole('option').allInnerTexts();
      }
      offered[arg.name] = options;
      await list.getByRole('option', { name: arg.pick, exact: true }).click();
    }
    await this.main().getByRole('button', { name: 'Get Prompt' }).click();
    await this.main().getByRole('heading', { name: 'Messages' }).waitFor();
    return { offered, messages: await this.main().innerText() };
  }

  /** The "Sampling Request" dialog: shows the server's messages; we type the completion. */
  async answerSampling(response: string): Promise<string> {
    const dialog = this.page.getByRole('dialog', { name: 'Sampling Request' });
    await dialog.waitFor();
    const shown = await dialog.innerText();
    await dialog.getByRole('textbox', { name: 'Response' }).fill(response);
    await dialog.getByRole('button', { name: 'Send Response' }).click();
    await dialog.waitFor({ state: 'hidden' });
    return shown;
  }

  /** The "Elicitation Request" dialog: fills the form the server asked for and submits it. */
  async answerElicitation(fields: Record<string, string>): Promise<string> {
    const dialog = this.page.getByRole('dialog', { name: 'Elicitation Request' });
    await dialog.waitFor();
    const shown = await dialog.innerText();
    for (const [label, value] of Object.entries(fields))
      await dialog.getByRole('textbox', { name: label, exact: true }).fill(value);
    await dialog.getByRole('button', { name: 'Submit' }).click();
    await dialog.waitFor({ state: 'hidden' });
    return shown;
  }

  /**
   * The log stream: the "Logs" view of the monitoring panel on the right, or, when that panel is
   * hidden, the header's Logs screen.
   */
  async logStream(): Promise<Locator> {
    const sidebar = this.page.getByRole('radiogroup', { name: 'Monitoring screen' });
    if (await sidebar.isVisible()) await sidebar.getByText('Logs', { exact: true }).click();
    else await this.screen('Logs');
    return this.main();
  }

  /** Servers → the card's Connection Info → OAuth Details (read as a user would, then closed). */
  async oauthDetails(): Promise<OAuthDetails> {
    const dialog = await this.openConnectionInfo();
    const valueAfter = async (label: string) =>
      (await dialog.getByText(label, { exact: true }).locator('xpath=following-sibling::*[1]').innerText()).trim();
    const details = {
      clientId: await valueAfter('Client ID'),
      registration: await valueAfter('Client registration'),
      scopes: await valueAfter('Scopes'),
      accessToken: (await dialog.getByText(/^eyJ[\w-]+\.[\w-]+\.[\w-]+$/).innerText()).trim(),
    };
    await dialog.getByRole('button', { name: 'Close' }).click();
    await dialog.waitFor({ state: 'hidden' });
    return details;
  }

  /** Connection Info → "Clear OAuth state and disconnect" (drops tokens and the registration; revokes nothing). */
  async clearOAuthState(): Promise<void> {
    const dialog = await this.openConnectionInfo();
    await dialog.getByRole('button', { name: 'Clear OAuth state and disconnect' }).click();
    await this.notice('OAuth state cleared').waitFor();
  }

  async openConnectionInfo(): Promise<Locator> {
    await this.screen('Servers');
    await this.main().getByRole('button', { name: 'Connection Info' }).click();
    const dialog = this.page.getByRole('dialog', { name: 'Connection Info' });
    await dialog.getByRole('heading', { name: 'OAuth Details' }).waitFor();
    return dialog;
  }
}

/** Our fake identity provider's page (src/auth/server/handlers/login.ts): type a user id, or pick a recent one. */
export async function signIn(page: Page, userId: string, how: 'type' | 'recent' = 'type'): Promise<void> {
  await page.getByRole('heading', { name: /^Sign in to / }).waitFor();
  if (how === 'recent') {
    await page.getByRole('listitem').getByRole('button', { name: userId, exact: true }).click();
    return;
  }
  await page.getByRole('textbox', { name: 'User id' }).fill(userId);
  await page.getByRole('button', { name: 'Continue' }).click();
}

/** Our consent page (src/auth/server/handlers/consent.ts): its text, then Approve or Deny. */
export async function consent(page: Page, decision: 'Approve' | 'Deny'): Promise<string> {
  await page.getByRole('heading', { name: 'Authorize access' }).waitFor();
  const text = await page.locator('body').innerText();
  await page.getByRole('button', { name: decision }).click();
  return text;
}
