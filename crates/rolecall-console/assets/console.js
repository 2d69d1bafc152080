// Rolecall console: a confirmation fetched by htmx into #modal opens as a modal dialog
// (focus moves into it, Escape closes it); its Cancel closes it. Without scripts the same
// confirmation is a page of its own.
document.addEventListener('htmx:afterSwap', (event) => {
  const dialog = event.detail.target.querySelector('dialog');
  if (dialog && !dialog.open) dialog.showModal();
});
document.addEventListener('click', (event) => {
  const cancel = event.target.closest('dialog [data-close]');
  if (cancel) {
    event.preventDefault();
    cancel.closest('dialog').close();
  }
});
